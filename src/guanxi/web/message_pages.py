"""Console screens for the message log: every message with what became of it (filtered by
status, channel, journey, broadcast or contact), a message's detail with each attempt and why
it was skipped or failed in words, cancelling one still queued, and the "Messages" panel of a
contact's 360° page (loaded by htmx)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from guanxi.contact import service as contacts
from guanxi.errors import GuanxiError, NotFound
from guanxi.http.deps import ListParams
from guanxi.journey import service as journeys
from guanxi.kit.schema import Id
from guanxi.message import api as message_api
from guanxi.message import service, templates
from guanxi.message.schemas import MessageOut
from guanxi.web.message_words import CHANNELS, MESSAGE_STATUSES, words
from guanxi.web.nav import MODULES
from guanxi.web.render import failure, page
from guanxi.web.session import Console, ConsoleDep

router = APIRouter()

PAGE_SIZE = 50
PANEL_SIZE = 10


def _listed(
    console: Console, limit: int, cursor: str | None = None, **filters: Any
) -> tuple[list[MessageOut], str | None]:
    """A page of the log, through the API's own listing (the same filters, order and tenancy)."""
    found = message_api.list_messages(
        ListParams(limit=limit, cursor=cursor, sort=None),
        console.principal,
        console.session,
        **filters,
    )
    return found.items, found.next_cursor


def _names(console: Console, contact_ids: Iterable[int | None]) -> dict[int, str]:
    """Who each message went to, as the member may see them (a page's worth of lookups)."""
    names: dict[int, str] = {}
    for contact_id in {c for c in contact_ids if c}:
        try:
            c = contacts.get(console.session, console.principal, contact_id)
        except NotFound:
            continue
        names[contact_id] = c.name or c.email or c.phone or str(c.id)
    return names


def _template_names(console: Console) -> dict[int, str]:
    return {t.id: t.name for t in templates.listed(console.session, console.principal, None)}


@router.get("/messages", response_class=HTMLResponse)
def message_log(
    request: Request,
    console: ConsoleDep,
    status: str = "",
    channel: str = "",
    journey_id: Id | None = None,
    broadcast_id: Id | None = None,
    contact_id: Id | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    filters = {
        "status": status if status in MESSAGE_STATUSES else None,
        "channel": channel if channel in CHANNELS else None,
        "journey_id": journey_id,
        "broadcast_id": broadcast_id,
        "contact_id": contact_id,
    }
    rows, next_cursor = _listed(console, PAGE_SIZE, cursor, **filters)
    flows = (
        journeys.listed(console.session, console.principal)
        if console.principal.can("journeys:read")
        else []
    )
    return page(
        request,
        "messages/log.html",
        console=console,
        modules=MODULES,
        active="channels",
        rows=rows,
        next_cursor=next_cursor,
        filters=filters,
        names=_names(console, (m.contact_id for m in rows)),
        template_names=_template_names(console),
        journeys=flows,
        journey_names={j.id: j.name for j in flows},
        **words(),
    )


def _detail(
    request: Request,
    console: Console,
    message_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    row = service.get(console.session, console.principal, message_id)
    journey = None
    if row.journey_id and console.principal.can("journeys:read"):
        try:
            journey = journeys.get(console.session, console.principal, row.journey_id)
        except NotFound:
            journey = None
    return page(
        request,
        "messages/detail.html",
        status_code,
        console=console,
        modules=MODULES,
        active="channels",
        m=row,
        tries=service.attempts(console.session, row),
        names=_names(console, [row.contact_id]),
        template_names=_template_names(console),
        journey=journey,
        can_cancel=row.status == "queued" and console.principal.can("messages:write"),
        error=error,
        **words(),
    )


@router.get("/messages/{message_id}", response_class=HTMLResponse)
def message_view(request: Request, console: ConsoleDep, message_id: Id) -> HTMLResponse:
    return _detail(request, console, message_id)


@router.post("/messages/{message_id}/cancel", response_class=HTMLResponse)
def cancel_message(request: Request, console: ConsoleDep, message_id: Id) -> Response:
    """Only a queued message (409 once it was handed to its provider)."""
    service.get(console.session, console.principal, message_id)  # 404 before anything
    try:
        service.cancel(console.session, console.principal, message_id)
    except GuanxiError as exc:
        console.session.rollback()
        return _detail(request, console, message_id, **failure(request, exc))
    return RedirectResponse(f"/app/messages/{message_id}", status_code=303)


@router.get("/contacts/{contact_id}/messages", response_class=HTMLResponse)
def contact_messages(request: Request, console: ConsoleDep, contact_id: Id) -> HTMLResponse:
    """The contact's latest messages, for its 360° page."""
    rows, more = _listed(console, PANEL_SIZE, contact_id=contact_id)
    return page(
        request,
        "messages/_contact.html",
        console=console,
        contact_id=contact_id,
        rows=rows,
        more=more is not None,
        template_names=_template_names(console),
        **words(),
    )
