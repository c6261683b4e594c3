"""Console screens for the lifecycle: stage settings (order, names, entry rules) with the
funnel, and the stage section of the contact 360° page (current stage, a move, the history),
loaded by htmx from its own route."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from guanxi.contact import service as contacts
from guanxi.errors import GuanxiError
from guanxi.i18n import N_
from guanxi.kit.clock import utcnow
from guanxi.kit.schema import Id
from guanxi.lifecycle import service as lifecycle
from guanxi.lifecycle.schemas import MoveIn, StageIn, StagePatch
from guanxi.models import Contact
from guanxi.web.nav import MODULES
from guanxi.web.render import failure, language_of, page
from guanxi.web.session import Console, ConsoleDep, PostedForm

router = APIRouter()
CAUSES = {
    "rule": N_("Entry rule"),
    "user": N_("By hand"),
    "api": N_("API"),
    "journey": N_("Journey"),
    "import": N_("Import"),
    "merge": N_("Merge"),
}
FUNNEL_DAYS = 30


def _settings(
    request: Request,
    console: Console,
    *,
    error: str | None = None,
    failed: dict[str, str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The settings page; ``failed``: a stage's rule text as typed, kept when it was refused."""
    s, actor = console.session, console.principal
    rows = lifecycle.list_stages(s, actor)
    now = utcnow()
    language = language_of(request)
    return page(
        request,
        "lifecycle/settings.html",
        status_code,
        console=console,
        modules=MODULES,
        active="segments",
        stages=rows,
        labels={st.key: lifecycle.label(st, language) for st in rows},
        rules={
            st.key: json.dumps(st.entry_rule, ensure_ascii=False, indent=2) if st.entry_rule else ""
            for st in rows
        }
        | (failed or {}),
        funnel=lifecycle.funnel(s, actor, now - timedelta(days=FUNNEL_DAYS), now),
        days=FUNNEL_DAYS,
        can_write=actor.can("lifecycle:write"),
        error=error,
        notice=notice,
    )


@router.get("/lifecycle", response_class=HTMLResponse)
def settings(request: Request, console: ConsoleDep, started: str = "") -> HTMLResponse:
    notice = N_("Entry rules are being applied to every contact.") if started else None
    return _settings(request, console, notice=notice)


class InvalidRuleText(GuanxiError):
    status = 422
    code = "invalid_condition"
    message = N_("The entry rule is not valid JSON: {reason}")


def _rule(text: str) -> Any:
    """The textarea's rule as data: empty is none."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRuleText(reason=f"{exc.msg} ({exc.lineno}:{exc.colno})") from exc


@router.post("/lifecycle/stages", response_class=HTMLResponse)
def create_stage(request: Request, console: ConsoleDep, data: PostedForm) -> Response:
    try:
        fields = StageIn.model_validate(
            {
                "key": str(data.get("key") or "").strip(),
                "name": str(data.get("name") or "").strip(),
                "kind": str(data.get("kind") or "funnel"),
                "before": str(data.get("before") or "") or None,
            }
        )
        lifecycle.create_stage(
            console.session,
            console.principal,
            key=fields.key,
            name=fields.name,
            kind=fields.kind,
            before=fields.before,
            entry_rule=None,
        )
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return _settings(request, console, **failure(request, exc))
    return RedirectResponse("/app/lifecycle", status_code=303)


@router.post("/lifecycle/stages/{stage_id}", response_class=HTMLResponse)
def save_stage(request: Request, console: ConsoleDep, stage_id: Id, data: PostedForm) -> Response:
    """A stage's name and entry rule, saved together. A default name shown translated and
    left as it was stays the default (translated in every language)."""
    text = str(data.get("entry_rule") or "")
    stage = lifecycle.get_stage(console.session, console.principal, stage_id)
    key, name = stage.key, str(data.get("name") or "").strip()
    if name == lifecycle.label(stage, language_of(request)):
        name = stage.name
    try:
        changes = StagePatch.model_validate({"name": name, "entry_rule": _rule(text)}).changes()
        lifecycle.update_stage(console.session, console.principal, stage_id, changes)
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return _settings(request, console, failed={key: text}, **failure(request, exc))
    return RedirectResponse("/app/lifecycle", status_code=303)


@router.post("/lifecycle/stages/{stage_id}/shift", response_class=HTMLResponse)
def shift_stage(request: Request, console: ConsoleDep, stage_id: Id, data: PostedForm) -> Response:
    """One place up or down."""
    s, actor = console.session, console.principal
    stage = lifecycle.get_stage(s, actor, stage_id)
    keys = [st.key for st in lifecycle.stages(s, actor.workspace_id)]
    at = keys.index(stage.key)
    to = at - 1 if data.get("direction") == "up" else at + 1
    if 0 <= to < len(keys):
        keys[at], keys[to] = keys[to], keys[at]
    lifecycle.reorder(s, actor, keys)
    return RedirectResponse("/app/lifecycle", status_code=303)


@router.post("/lifecycle/stages/{stage_id}/delete", response_class=HTMLResponse)
def delete_stage(request: Request, console: ConsoleDep, stage_id: Id) -> Response:
    try:
        lifecycle.delete_stage(console.session, console.principal, stage_id)
    except GuanxiError as exc:
        console.session.rollback()
        return _settings(request, console, **failure(request, exc))
    return RedirectResponse("/app/lifecycle", status_code=303)


@router.post("/lifecycle/reapply", response_class=HTMLResponse)
def reapply(console: ConsoleDep) -> Response:
    lifecycle.start_reapply(console.session, console.principal)
    return RedirectResponse("/app/lifecycle?started=1", status_code=303)


# -- the stage section of the contact page ---------------------------------------------------


def _section(
    request: Request,
    console: Console,
    contact: Contact,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    s, actor = console.session, console.principal
    rows = lifecycle.stages(s, actor.workspace_id)
    language = language_of(request)
    changes, _ = lifecycle.history(s, actor, contact.id, limit=20, cursor=None)
    return page(
        request,
        "lifecycle/_contact.html",
        status_code,
        console=console,
        contact=contact,
        stages=rows,
        labels={st.key: lifecycle.label(st, language) for st in rows},
        changes=[r.StageChange for r in changes],
        causes=CAUSES,
        can_move=actor.can("stages:write") and contact.status == "active",
        error=error,
    )


@router.get("/contacts/{contact_id}/lifecycle", response_class=HTMLResponse)
def contact_section(request: Request, console: ConsoleDep, contact_id: Id) -> HTMLResponse:
    contact = contacts.get(console.session, console.principal, contact_id)
    return _section(request, console, contact)


@router.post("/contacts/{contact_id}/lifecycle", response_class=HTMLResponse)
def move_contact(
    request: Request, console: ConsoleDep, contact_id: Id, data: PostedForm
) -> HTMLResponse:
    """A move from the contact page; answers with the section again (htmx swaps it)."""
    s, actor = console.session, console.principal
    try:
        wanted = MoveIn.model_validate(
            {
                "stage": str(data.get("stage") or ""),
                "note": str(data.get("note") or "").strip() or None,
            }
        )
        lifecycle.move(s, actor, contact_id, wanted.stage, wanted.note, utcnow())
    except (GuanxiError, ValidationError) as exc:
        s.rollback()
        contact = contacts.get(s, actor, contact_id)
        return _section(request, console, contact, **failure(request, exc))
    return _section(request, console, contacts.get(s, actor, contact_id))
