"""The segment builder: a new or changed segment's condition tree, edited in the page by
static/segments.js with pickers for the workspace's own fields, event types, tags, models and
segments, a live count and sample (the preview route), and saving with refusals shown in place."""

from __future__ import annotations

import json
from typing import Any, get_args

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select

from guanxi.account.schemas import Tier
from guanxi.contact import fields as custom_fields
from guanxi.errors import GuanxiError
from guanxi.event import catalogue
from guanxi.event import types as event_types
from guanxi.i18n import gettext
from guanxi.kit.clock import utcnow
from guanxi.kit.schema import Id
from guanxi.lifecycle import service as lifecycle
from guanxi.models import Segment, Tag
from guanxi.scoring.specs import models as score_models
from guanxi.segment import manage, service
from guanxi.segment.conditions import ACCOUNT_FIELDS, CONTACT_FIELDS, OPS, Condition
from guanxi.segment.schemas import SegmentIn
from guanxi.web import labels
from guanxi.web import segment_words as words
from guanxi.web.nav import MODULES
from guanxi.web.render import failure, language_of, page
from guanxi.web.session import Console, ConsoleDep, PostedForm

router = APIRouter()
CONDITION: TypeAdapter[Any] = TypeAdapter(Condition)
SAMPLE = 10
NUMERIC = {catalogue.PropKind.number, catalogue.PropKind.integer, catalogue.PropKind.ratio}


def _field(name: str, label: str, type: str, options: list[Any]) -> dict[str, Any]:
    return {"name": name, "label": label, "type": type, "options": options}


def pickers(request: Request, console: Console, segment_id: int | None) -> dict[str, Any]:
    """What the builder offers: the workspace's fields with their types and choices, the
    operators each type takes, event types with their properties, tags, scoring models and
    the other segments — with every label in the page's language."""
    language = language_of(request)

    def t(text: str) -> str:
        return gettext(text, language)

    session, ws = console.session, console.principal.workspace_id
    stages = [
        {"value": s.key, "label": lifecycle.label(s, language)} for s in lifecycle.peek(session, ws)
    ]
    choices: dict[str, list[Any]] = {
        "gender": [{"value": k, "label": t(v)} for k, v in labels.GENDERS.items()],
        "stage": stages,
    }
    contact = [
        _field(k, t(words.CONTACT_FIELDS[k]), kind, choices.get(k, []))
        for k, kind in CONTACT_FIELDS.items()
    ]
    tiers = [{"value": v, "label": v} for v in get_args(Tier)]
    account = [
        _field(k, t(words.ACCOUNT_FIELDS[k]), kind, tiers if k == "tier" else [])
        for k, kind in ACCOUNT_FIELDS.items()
    ]
    for obj, target in (("contact", contact), ("account", account)):
        for key, f in sorted(custom_fields.definitions(session, ws, obj).items()):
            options = [{"value": o, "label": o} for o in f.options or []]
            target.append(_field(f"custom.{key}", f.label, f.type, options))
    own = {
        e.name: (e.label, catalogue.custom_spec(e.name, e.properties))
        for e in event_types.list_types(session, console.principal)
    }
    events = [
        {
            "name": name,
            "label": name if label == name else f"{label} ({name})",
            "props": [{"name": p.name, "numeric": p.kind in NUMERIC} for p in spec.props],
        }
        for name, (label, spec) in sorted(
            {**{n: (n, s) for n, s in catalogue.BUILTIN.items()}, **own}.items()
        )
    ]
    tags = session.execute(
        select(Tag.id, Tag.name).where(Tag.workspace_id == ws).order_by(Tag.name)
    ).all()
    segments = session.execute(
        select(Segment.id, Segment.name).where(Segment.workspace_id == ws).order_by(Segment.name)
    ).all()
    return {
        "contact_fields": contact,
        "account_fields": account,
        "ops": {kind: [o for o in words.OP_ORDER if o in ops] for kind, ops in OPS.items()},
        "op_labels": {k: t(v) for k, v in words.OPS.items()},
        "kinds": {k: t(v) for k, v in words.KINDS.items()},
        "event_types": events,
        "tags": [{"id": str(i), "name": n} for i, n in tags],
        "models": [{"id": str(m.id), "name": m.name} for m in score_models(session, ws)],
        "segments": [{"id": str(i), "name": n} for i, n in segments if i != segment_id],
        "words": {k: t(v) for k, v in words.WORDS.items()},
    }


def builder_page(
    request: Request,
    console: Console,
    segment: Segment | None,
    *,
    name: str,
    kind: str,
    condition: str,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "segments/builder.html",
        status_code,
        console=console,
        modules=MODULES,
        active="segments",
        segment=segment,
        name=name,
        kind=kind,
        condition=condition,
        schema=pickers(request, console, segment.id if segment else None),
        error=error,
    )


def _posted(name: str, kind: str, condition: str) -> SegmentIn:
    return SegmentIn(
        name=name.strip(),
        kind="static" if kind == "static" else "dynamic",
        condition=CONDITION.validate_json(condition) if kind != "static" else None,
    )


@router.get("/segments/new", response_class=HTMLResponse)
def new_segment(request: Request, console: ConsoleDep, kind: str = "dynamic") -> HTMLResponse:
    console.principal.require("segments:write")
    kind = "static" if kind == "static" else "dynamic"
    return builder_page(request, console, None, name="", kind=kind, condition="")


@router.post("/segments/new", response_class=HTMLResponse)
def create_segment(request: Request, console: ConsoleDep, data: PostedForm) -> Response:
    console.principal.require("segments:write")
    name, kind = str(data.get("name") or ""), str(data.get("kind") or "dynamic")
    condition = str(data.get("condition") or "")
    try:
        made = manage.create(
            console.session, console.principal, _posted(name, kind, condition), utcnow()
        )
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return builder_page(
            request,
            console,
            None,
            name=name,
            kind=kind,
            condition=condition,
            **failure(request, exc),
        )
    return RedirectResponse(f"/app/segments/{made.id}", status_code=303)


@router.post("/segments/preview", response_class=HTMLResponse)
def preview(request: Request, console: ConsoleDep, data: PostedForm) -> HTMLResponse:
    """The builder's live count: how many contacts match the posted tree now, and a few of
    them; a tree that cannot be used answers its reason (422) in the same place."""
    try:
        tree = CONDITION.validate_json(str(data.get("condition") or ""))
        count, sample = service.preview(console.session, console.principal, tree, utcnow(), SAMPLE)
    except (GuanxiError, ValidationError) as exc:
        return page(request, "segments/_preview.html", console=console, **failure(request, exc))
    return page(request, "segments/_preview.html", console=console, count=count, sample=sample)


@router.get("/segments/{segment_id}/edit", response_class=HTMLResponse)
def edit_segment(request: Request, console: ConsoleDep, segment_id: Id) -> HTMLResponse:
    segment = manage.get(console.session, console.principal, segment_id, write=True)
    condition = json.dumps(segment.condition, ensure_ascii=False) if segment.condition else ""
    return builder_page(
        request, console, segment, name=segment.name, kind=segment.kind, condition=condition
    )


@router.post("/segments/{segment_id}/edit", response_class=HTMLResponse)
def save_segment(
    request: Request, console: ConsoleDep, segment_id: Id, data: PostedForm
) -> Response:
    segment = manage.get(console.session, console.principal, segment_id, write=True)
    name, condition = str(data.get("name") or ""), str(data.get("condition") or "")
    try:
        manage.update(
            console.session,
            console.principal,
            segment.id,
            _posted(name, segment.kind, condition),
            utcnow(),
        )
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        segment = manage.get(console.session, console.principal, segment_id, write=True)
        return builder_page(
            request,
            console,
            segment,
            name=name,
            kind=segment.kind,
            condition=condition,
            **failure(request, exc),
        )
    return RedirectResponse(f"/app/segments/{segment_id}", status_code=303)
