"""Rendering console pages in the request's language."""

from __future__ import annotations

import json
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError

from guanxi import __version__
from guanxi.auth.permissions import ROLE_LABELS, SCOPE_LABELS
from guanxi.errors import GuanxiError
from guanxi.http.errors import reason_of, render
from guanxi.i18n import LANGUAGE_NAMES, LANGUAGES, N_, Language, gettext, ngettext
from guanxi.web import labels

TEMPLATES = Path(__file__).parent / "templates"

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
env.globals.update(
    version=__version__,
    languages=LANGUAGES,
    language_names=LANGUAGE_NAMES,
    role_labels={r.value: label for r, label in ROLE_LABELS.items()},
    scope_labels={s.value: label for s, label in SCOPE_LABELS.items()},
    import_statuses=labels.IMPORT_STATUSES,
    count_labels=labels.COUNTS,
    problem_labels=labels.PROBLEMS,
    target_labels=labels.TARGETS,
    committee_roles=labels.COMMITTEE_ROLES,
)


def local_time(value: datetime | str | None, timezone: str) -> str:
    """A timestamp (or its ISO text) in the workspace's time zone, to the minute ("—" when
    absent)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


env.filters["local"] = local_time
# JSON as a person reads it: Chinese as it is, not \u escapes (autoescape still applies)
env.filters["json"] = partial(json.dumps, ensure_ascii=False)


def language_of(request: Request) -> Language:
    return getattr(request.state, "language", request.app.state.settings.default_language)  # type: ignore[no-any-return]


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    language = language_of(request)

    def _(text: str, **params: Any) -> str:
        translated = gettext(text, language)
        return translated.format(**params) if params else translated

    def n_(singular: str, plural: str, n: int, **params: Any) -> str:
        return ngettext(singular, plural, n, language).format(n=n, **params)

    html = env.get_template(template).render(
        request=request,
        language=language,
        html_lang="zh-CN" if language == "zh_CN" else "en",
        _=_,
        gettext=_,
        ngettext=n_,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def failure(request: Request, exc: Exception) -> dict[str, Any]:
    """The message and status a refused form is answered with (the page, re-rendered): the
    error's own text, or each invalid field with its reason, in the page's language."""
    language = language_of(request)
    if isinstance(exc, GuanxiError):
        return {"error": render(exc, language), "status_code": exc.status}
    assert isinstance(exc, ValidationError)
    fields = "; ".join(
        f"{e['loc'][-1]}: {reason_of(e, language)}" if e["loc"] else reason_of(e, language)
        for e in exc.errors()
    )
    message = gettext(N_("Some fields are not valid."), language)
    return {"error": f"{message} ({fields})", "status_code": 422}
