"""Console screens for segments: the list, a segment's page (its condition in words, members,
30 days of entries and exits, repair rebuild, delete, lookalikes) and a static list's members
added and removed by hand. The builder (new and changed segments) is in segment_builder."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from guanxi.errors import GuanxiError
from guanxi.i18n import gettext
from guanxi.kit.clock import utcnow
from guanxi.kit.schema import Id
from guanxi.segment import lookalike, manage
from guanxi.segment.schemas import MembersIn
from guanxi.web import segment_builder
from guanxi.web import segment_words as words
from guanxi.web.nav import MODULES
from guanxi.web.render import failure, language_of, page
from guanxi.web.session import Console, ConsoleDep, PostedForm

router = APIRouter()
router.include_router(segment_builder.router)  # its /segments/new before /segments/{id}
PAGE_SIZE = 50
LOOKALIKES = 50
HISTORY_DAYS = 30
CHART = {"width": 600, "height": 160, "half": 70}  # the chart's size; bars grow from the middle


@router.get("/segments", response_class=HTMLResponse)
def segment_list(request: Request, console: ConsoleDep) -> HTMLResponse:
    return page(
        request,
        "segments/list.html",
        console=console,
        modules=MODULES,
        active="segments",
        segments=manage.list_segments(console.session, console.principal),
        can_write=console.principal.can("segments:write"),
    )


def summary(request: Request, console: Console, condition: dict[str, Any]) -> str:
    """The condition in words, naming fields, tags, models and segments as people see them."""
    language = language_of(request)

    def t(text: str) -> str:
        return gettext(text, language)

    schema = segment_builder.pickers(request, console, None)
    names = words.Names(
        contact_fields={f["name"]: f["label"] for f in schema["contact_fields"]},
        account_fields={f["name"]: f["label"] for f in schema["account_fields"]},
        tags={x["id"]: x["name"] for x in schema["tags"]},
        models={m["id"]: m["name"] for m in schema["models"]},
        segments={x["id"]: x["name"] for x in schema["segments"]},
    )
    return words.describe(condition, names, t)


def chart(days: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars for an SVG chart: entries up from the middle line, exits down, scaled to the
    busiest day."""
    top = max([1, *(max(d["entered"], d["exited"]) for d in days)])
    step = CHART["width"] / max(len(days), 1)
    bars = [
        {
            "x": round(i * step + 1, 1),
            "width": round(max(step - 2, 1), 1),
            "up": round(d["entered"] / top * CHART["half"], 1),
            "down": round(d["exited"] / top * CHART["half"], 1),
            **d,
        }
        for i, d in enumerate(days)
    ]
    return {**CHART, "bars": bars, "top": top, "middle": CHART["height"] / 2}


def segment_page(
    request: Request,
    console: Console,
    segment_id: int,
    *,
    cursor: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    segment = manage.get(console.session, console.principal, segment_id)
    members, next_cursor = manage.members(
        console.session, console.principal, segment.id, PAGE_SIZE, cursor
    )
    days = manage.history(console.session, console.principal, segment.id, HISTORY_DAYS, utcnow())
    return page(
        request,
        "segments/view.html",
        status_code,
        console=console,
        modules=MODULES,
        active="segments",
        segment=segment,
        summary=summary(request, console, segment.condition) if segment.condition else "",
        members=members,
        cursor=cursor,
        next_cursor=next_cursor,
        chart=chart(days),
        can_write=console.principal.can("segments:write"),
        error=error,
    )


@router.get("/segments/{segment_id}", response_class=HTMLResponse)
def view_segment(
    request: Request, console: ConsoleDep, segment_id: Id, cursor: str | None = None
) -> HTMLResponse:
    return segment_page(request, console, segment_id, cursor=cursor)


@router.get("/segments/{segment_id}/lookalikes", response_class=HTMLResponse)
def lookalikes(request: Request, console: ConsoleDep, segment_id: Id) -> HTMLResponse:
    """The contacts outside the segment most like its members (loaded after the page)."""
    found = lookalike.lookalike(
        console.session, console.principal, segment_id, LOOKALIKES, utcnow()
    )
    return page(
        request,
        "segments/_lookalikes.html",
        console=console,
        segment_id=segment_id,
        found=found,
    )


@router.post("/segments/{segment_id}/delete", response_class=HTMLResponse)
def delete_segment(request: Request, console: ConsoleDep, segment_id: Id) -> Response:
    try:
        manage.delete_segment(console.session, console.principal, segment_id)
    except GuanxiError as exc:
        console.session.rollback()
        return segment_page(request, console, segment_id, **failure(request, exc))
    return RedirectResponse("/app/segments", status_code=303)


@router.post("/segments/{segment_id}/rebuild", response_class=HTMLResponse)
def rebuild_segment(request: Request, console: ConsoleDep, segment_id: Id) -> Response:
    try:
        manage.rebuild(console.session, console.principal, segment_id, utcnow())
    except GuanxiError as exc:
        console.session.rollback()
        return segment_page(request, console, segment_id, **failure(request, exc))
    return RedirectResponse(f"/app/segments/{segment_id}", status_code=303)


def _change(request: Request, console: Console, segment_id: int, text: str, add: bool) -> Response:
    try:
        wanted = MembersIn(contact_ids=[t for t in re.split(r"[\s,，;；]+", text) if t])
        manage.change_members(
            console.session, console.principal, segment_id, wanted.contact_ids, add, utcnow()
        )
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return segment_page(request, console, segment_id, **failure(request, exc))
    return RedirectResponse(f"/app/segments/{segment_id}", status_code=303)


@router.post("/segments/{segment_id}/members", response_class=HTMLResponse)
def add_members(
    request: Request, console: ConsoleDep, segment_id: Id, data: PostedForm
) -> Response:
    """Contact ids typed or pasted, separated by spaces, commas or new lines."""
    return _change(request, console, segment_id, str(data.get("contact_ids") or ""), True)


@router.post("/segments/{segment_id}/members/remove", response_class=HTMLResponse)
def remove_members(
    request: Request, console: ConsoleDep, segment_id: Id, data: PostedForm
) -> Response:
    return _change(request, console, segment_id, str(data.get("contact_ids") or ""), False)
