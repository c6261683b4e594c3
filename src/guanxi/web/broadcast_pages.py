"""Console screen for broadcasts: one template to every member of a segment. The list shows each
broadcast's status and how many messages it has queued; a draft is sent from its row, after a
confirmation that says how many members the segment has now."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from guanxi.errors import GuanxiError
from guanxi.kit.clock import utcnow
from guanxi.kit.schema import Id
from guanxi.message import broadcasts, templates
from guanxi.message.schemas import BroadcastIn
from guanxi.segment import manage as segments
from guanxi.web.message_words import words
from guanxi.web.nav import MODULES
from guanxi.web.render import failure, page
from guanxi.web.session import Console, ConsoleDep, PostedForm

router = APIRouter()


def _list(
    request: Request,
    console: Console,
    *,
    draft: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    s, actor = console.session, console.principal
    template_rows = templates.listed(s, actor, None)
    segment_rows = segments.list_segments(s, actor)
    return page(
        request,
        "broadcasts/list.html",
        status_code,
        console=console,
        modules=MODULES,
        active="channels",
        rows=broadcasts.listed(s, actor),
        template_rows=template_rows,
        template_names={t.id: t.name for t in template_rows},
        segment_rows=segment_rows,
        segment_by_id={g.id: g for g in segment_rows},
        draft=draft or {"name": "", "template_id": "", "segment_id": "", "marketing": "1"},
        can_write=actor.can("messages:write"),
        error=error,
        **words(),
    )


@router.get("/broadcasts", response_class=HTMLResponse)
def broadcast_list(request: Request, console: ConsoleDep) -> HTMLResponse:
    return _list(request, console)


@router.post("/broadcasts", response_class=HTMLResponse)
def create_broadcast(request: Request, console: ConsoleDep, data: PostedForm) -> Response:
    """A draft: nothing goes until it is sent."""
    draft = {k: str(data.get(k) or "").strip() for k in ("name", "template_id", "segment_id")}
    draft["marketing"] = "1" if data.get("marketing") else ""
    try:
        wanted = BroadcastIn.model_validate({**draft, "marketing": bool(draft["marketing"])})
        broadcasts.create(
            console.session,
            console.principal,
            name=wanted.name,
            template_id=wanted.template_id,
            segment_id=wanted.segment_id,
            marketing=wanted.marketing,
            now=utcnow(),
        )
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return _list(request, console, draft=draft, **failure(request, exc))
    return RedirectResponse("/app/broadcasts", status_code=303)


@router.post("/broadcasts/{broadcast_id}/send", response_class=HTMLResponse)
def send_broadcast(request: Request, console: ConsoleDep, broadcast_id: Id) -> Response:
    """Queue the job that writes a message per member (409 the second time)."""
    broadcasts.get(console.session, console.principal, broadcast_id)  # 404 before anything
    try:
        broadcasts.send(console.session, console.principal, broadcast_id, utcnow())
    except GuanxiError as exc:
        console.session.rollback()
        return _list(request, console, **failure(request, exc))
    return RedirectResponse("/app/broadcasts", status_code=303)
