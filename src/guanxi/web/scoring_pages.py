"""Console screens for scoring (评分): the models, a model's editor (its settings, a combined
model's weights, the rules) with the "what would this contact score" preview, and a contact's
scores on the 360 page (loaded by htmx)."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from guanxi.contact import service as contacts
from guanxi.errors import GuanxiError
from guanxi.i18n import N_
from guanxi.kit.clock import utcnow
from guanxi.kit.schema import Id
from guanxi.models import ScoreModel, ScoreRule
from guanxi.scoring import scores, service
from guanxi.scoring.schemas import ModelIn, PreviewIn, RuleIn
from guanxi.scoring.service import InvalidScoring
from guanxi.segment.service import schema_for
from guanxi.web.nav import MODULES
from guanxi.web.render import failure, page
from guanxi.web.session import Console, ConsoleDep, PostedForm

router = APIRouter()

KINDS = {"points": N_("Points"), "combined": N_("Combined")}
DECAYS = {
    "none": N_("No decay"),
    "half_life": N_("Half-life"),
    "linear": N_("Linear fade"),
}
ROLLUPS = {"sum": N_("Sum"), "max": N_("Highest"), "top_n": N_("Sum of the best N")}
RULE_KINDS = {
    "engagement": N_("Engagement"),
    "fit": N_("Fit"),
    "account_fit": N_("Account fit"),
}
FILTER_OPS = ("eq", "ne", "contains", "gt", "gte", "lt", "lte")
FILTER_LINE = re.compile(r"^\s*([A-Za-z0-9_]+)\s+(\w+)\s+(.+?)\s*$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _text(data: FormData, key: str) -> str:
    return str(data.get(key) or "").strip()


def _blank(data: FormData, key: str) -> str | None:
    return _text(data, key) or None


# -- reading the posted forms ----------------------------------------------------------------


def _model_draft(data: FormData, kind: str) -> dict[str, Any]:
    """The posted model settings; a combined model's weights come as ``w_<model id>``."""
    decay = _text(data, "decay") or "none"
    weights = {
        str(key)[2:]: str(value).strip()
        for key, value in data.multi_items()
        if str(key).startswith("w_") and str(value).strip()
    }
    return {
        "name": _text(data, "name"),
        "kind": kind,
        "decay": decay,
        "decay_days": _blank(data, "decay_days") if decay != "none" else None,
        "weights": weights,
        "grades": {g: _text(data, f"grade_{g}") or default for g, default in GRADE_DEFAULTS},
        "rollup": _text(data, "rollup") or "sum",
        "rollup_n": _text(data, "rollup_n") or "3",
        "enabled": bool(data.get("enabled")),
    }


GRADE_DEFAULTS = (("A", "75"), ("B", "50"), ("C", "25"))


def _filters(text: str) -> list[dict[str, Any]]:
    """One property filter a line: ``property operator value``; a value in double quotes is
    text, a bare number a number."""
    filters = []
    for line in text.splitlines():
        if not line.strip():
            continue
        match = FILTER_LINE.match(line)
        if match is None or match.group(2) not in FILTER_OPS:
            raise InvalidScoring(reason=N_("a property filter reads: property operator value"))
        prop, op, raw = match.groups()
        value: str | float = raw
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            value = raw[1:-1]
        elif NUMBER.match(raw):
            value = float(raw)
        filters.append({"property": prop, "op": op, "value": value})
    return filters


def filter_text(where: list[dict[str, Any]]) -> str:
    """The filters as the editor shows them (the reverse of ``_filters``)."""
    lines = []
    for f in where:
        value = f["value"]
        shown = f'"{value}"' if isinstance(value, str) and NUMBER.match(value) else str(value)
        if isinstance(value, float) and value.is_integer():
            shown = str(int(value))
        lines.append(f"{f['property']} {f['op']} {shown}")
    return "\n".join(lines)


def _rule_draft(data: FormData) -> dict[str, Any]:
    """The posted rule as the editor holds it (text as typed, to show again on a refusal)."""
    return {
        "kind": _text(data, "kind"),
        "name": _text(data, "name"),
        "event_type": _text(data, "event_type"),
        "where": _text(data, "where"),
        "condition": _text(data, "condition"),
        "points": _text(data, "points"),
        "cap": _text(data, "cap"),
        "cap_days": _text(data, "cap_days"),
    }


def _rule_in(draft: dict[str, Any]) -> RuleIn:
    body: dict[str, Any] = {"kind": draft["kind"], "name": draft["name"]}
    body["points"] = draft["points"] or None
    if draft["kind"] == "engagement":
        body["event_type"] = draft["event_type"] or None
        body["where"] = _filters(draft["where"])
        body["cap"] = draft["cap"] or None
        body["cap_days"] = draft["cap_days"] or None
    else:
        try:
            body["condition"] = json.loads(draft["condition"] or "null")
        except ValueError as exc:
            raise InvalidScoring(reason=N_("the condition is not valid JSON")) from exc
    return RuleIn.model_validate(body)


def _saved(rule: ScoreRule) -> RuleIn:
    return RuleIn.model_validate(
        {
            "kind": rule.kind,
            "name": rule.name,
            "event_type": rule.event_type,
            "where": rule.where or [],
            "condition": rule.condition,
            "points": rule.points,
            "cap": rule.cap,
            "cap_days": rule.cap_days,
        }
    )


def _rule_view(rule: ScoreRule) -> dict[str, Any]:
    def number(value: float | None) -> str:
        if value is None:
            return ""
        return str(int(value)) if float(value).is_integer() else str(value)

    return {
        "kind": rule.kind,
        "name": rule.name,
        "event_type": rule.event_type or "",
        "where": filter_text(rule.where or []),
        "condition": json.dumps(rule.condition, ensure_ascii=False, indent=1)
        if rule.condition
        else "",
        "points": number(rule.points),
        "cap": number(rule.cap),
        "cap_days": str(rule.cap_days or ""),
    }


# -- the list --------------------------------------------------------------------------------


def _list_page(
    request: Request,
    console: Console,
    *,
    draft: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "scoring/list.html",
        status_code,
        console=console,
        modules=MODULES,
        active="segments",
        models=service.list_models(console.session, console.principal),
        kinds=KINDS,
        decays=DECAYS,
        draft=draft or {"name": "", "kind": "points"},
        can_write=console.principal.can("scoring:write"),
        error=error,
    )


@router.get("/scoring", response_class=HTMLResponse)
def model_list(request: Request, console: ConsoleDep) -> HTMLResponse:
    return _list_page(request, console)


@router.post("/scoring", response_class=HTMLResponse)
def create_model(request: Request, console: ConsoleDep, data: PostedForm) -> Response:
    """A new model with its defaults; a combined one starts weighing every points model
    equally (its weights are edited on its page)."""
    draft = {"name": _text(data, "name"), "kind": _text(data, "kind") or "points"}
    try:
        body: dict[str, Any] = dict(draft)
        if draft["kind"] == "combined":
            parts = [
                m
                for m in service.list_models(console.session, console.principal)
                if m.kind == "points"
            ]
            body["weights"] = {str(m.id): 1.0 for m in parts}
        model = service.create_model(
            console.session, console.principal, ModelIn.model_validate(body), utcnow()
        )
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return _list_page(request, console, draft=draft, **failure(request, exc))
    return RedirectResponse(f"/app/scoring/{model.id}", status_code=303)


# -- a model's page --------------------------------------------------------------------------


def _model_page(
    request: Request,
    console: Console,
    model: ScoreModel,
    *,
    settings: dict[str, Any] | None = None,
    drafts: dict[str, dict[str, Any]] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    s, actor = console.session, console.principal
    rules = service.list_rules(s, actor, model.id)
    types = schema_for(s, actor.workspace_id).event_types or frozenset()
    current = settings or {
        "name": model.name,
        "decay": model.decay,
        "decay_days": model.decay_days or "",
        "weights": {k: v for k, v in (model.weights or {}).items()},
        "grades": dict(model.grades or {}),
        "rollup": model.rollup,
        "rollup_n": model.rollup_n,
        "enabled": model.enabled,
    }
    shown = {str(r.id): _rule_view(r) for r in rules}
    blank = {k: {**_rule_draft(FormData()), "kind": k} for k in RULE_KINDS}
    for key, draft in (drafts or {}).items():
        (shown if key in shown else blank)[key] = draft
    return page(
        request,
        "scoring/model.html",
        status_code,
        console=console,
        modules=MODULES,
        active="segments",
        model=model,
        current=current,
        rules=rules,
        shown=shown,
        blank=blank,
        parts=[m for m in service.list_models(s, actor) if m.kind == "points" and m.id != model.id],
        event_types=sorted(types - {"score_changed"}),
        filter_ops=FILTER_OPS,
        decays=DECAYS,
        rollups=ROLLUPS,
        rule_kinds=RULE_KINDS,
        kinds=KINDS,
        can_write=actor.can("scoring:write"),
        error=error,
    )


@router.get("/scoring/{model_id}", response_class=HTMLResponse)
def model_view(request: Request, console: ConsoleDep, model_id: Id) -> HTMLResponse:
    model = service.get_model(console.session, console.principal, model_id)
    return _model_page(request, console, model)


@router.post("/scoring/{model_id}", response_class=HTMLResponse)
def save_model(request: Request, console: ConsoleDep, model_id: Id, data: PostedForm) -> Response:
    model = service.get_model(console.session, console.principal, model_id, write=True)
    draft = _model_draft(data, model.kind)
    try:
        service.update_model(
            console.session, console.principal, model.id, ModelIn.model_validate(draft), utcnow()
        )
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        model = service.get_model(console.session, console.principal, model_id)
        return _model_page(request, console, model, settings=draft, **failure(request, exc))
    return RedirectResponse(f"/app/scoring/{model.id}", status_code=303)


@router.post("/scoring/{model_id}/delete", response_class=HTMLResponse)
def delete_model(request: Request, console: ConsoleDep, model_id: Id) -> Response:
    model = service.get_model(console.session, console.principal, model_id, write=True)
    try:
        service.delete_model(console.session, console.principal, model.id)
    except GuanxiError as exc:
        console.session.rollback()
        model = service.get_model(console.session, console.principal, model_id)
        return _model_page(request, console, model, **failure(request, exc))
    return RedirectResponse("/app/scoring", status_code=303)


@router.post("/scoring/{model_id}/rules", response_class=HTMLResponse)
def create_rule(request: Request, console: ConsoleDep, model_id: Id, data: PostedForm) -> Response:
    model = service.get_model(console.session, console.principal, model_id, write=True)
    draft = _rule_draft(data)
    try:
        service.create_rule(console.session, console.principal, model.id, _rule_in(draft), utcnow())
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        model = service.get_model(console.session, console.principal, model_id)
        drafts = {draft["kind"]: draft} if draft["kind"] in RULE_KINDS else {}
        return _model_page(request, console, model, drafts=drafts, **failure(request, exc))
    return RedirectResponse(f"/app/scoring/{model.id}#rules", status_code=303)


@router.post("/scoring/rules/{rule_id}", response_class=HTMLResponse)
def save_rule(request: Request, console: ConsoleDep, rule_id: Id, data: PostedForm) -> Response:
    rule, model = service.get_rule(console.session, console.principal, rule_id)
    draft = {**_rule_draft(data), "kind": rule.kind}
    try:
        service.update_rule(console.session, console.principal, rule.id, _rule_in(draft))
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        model = service.get_model(console.session, console.principal, model.id)
        drafts = {str(rule_id): draft}
        return _model_page(request, console, model, drafts=drafts, **failure(request, exc))
    return RedirectResponse(f"/app/scoring/{model.id}#rules", status_code=303)


@router.post("/scoring/rules/{rule_id}/delete", response_class=HTMLResponse)
def delete_rule(console: ConsoleDep, rule_id: Id) -> Response:
    _, model = service.get_rule(console.session, console.principal, rule_id)
    service.delete_rule(console.session, console.principal, rule_id)
    return RedirectResponse(f"/app/scoring/{model.id}#rules", status_code=303)


# -- the preview -----------------------------------------------------------------------------


@router.get("/scoring/{model_id}/contacts", response_class=HTMLResponse)
def contact_search(
    request: Request, console: ConsoleDep, model_id: Id, q: str = ""
) -> HTMLResponse:
    """Contacts to preview, found by name, email or phone (the newest ten)."""
    model = service.get_model(console.session, console.principal, model_id)
    found = contacts.search(console.session, console.principal, q)
    return page(request, "scoring/_contacts.html", console=console, model=model, found=found)


@router.post("/scoring/{model_id}/preview", response_class=HTMLResponse)
def preview(request: Request, console: ConsoleDep, model_id: Id, data: PostedForm) -> HTMLResponse:
    """The contact's score under the saved rules, and with the rule being drafted when one of
    the "add a rule" forms is posted (its ``kind`` comes along)."""
    s, actor = console.session, console.principal
    model = service.get_model(s, actor, model_id)
    result, error, status_code = None, None, 200
    try:
        rules = None
        if _text(data, "kind") in RULE_KINDS:
            saved = [_saved(r) for r in service.list_rules(s, actor, model.id)]
            rules = [*saved, _rule_in(_rule_draft(data))]
        wanted = PreviewIn.model_validate(
            {"contact_id": _text(data, "contact_id") or None, "rules": rules}
        )
        result = scores.preview(s, actor, model.id, wanted, utcnow())
    except (GuanxiError, ValidationError) as exc:
        s.rollback()
        refused = failure(request, exc)
        error, status_code = refused["error"], refused["status_code"]
    return page(
        request,
        "scoring/_preview.html",
        status_code,
        console=console,
        result=result,
        drafted=_text(data, "kind") in RULE_KINDS,
        error=error,
    )


# -- the contact 360 page --------------------------------------------------------------------


@router.get("/contacts/{contact_id}/scores", response_class=HTMLResponse)
def contact_scores(request: Request, console: ConsoleDep, contact_id: Id) -> HTMLResponse:
    """The contact's score in every model, for its 360 page."""
    rows = scores.contact_scores(console.session, console.principal, contact_id, utcnow())
    return page(
        request,
        "scoring/_contact_scores.html",
        console=console,
        scores=rows,
        contact_id=contact_id,
    )
