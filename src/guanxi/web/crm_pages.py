"""Console screens for customer data: contacts, the 360° view, accounts with their org chart."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from guanxi.account import service as accounts
from guanxi.contact import duplicates as duplicate_pairs
from guanxi.contact import exports
from guanxi.contact import service as contacts
from guanxi.event import service as events
from guanxi.identity import merging
from guanxi.identity import repository as identities
from guanxi.kit.clock import utcnow
from guanxi.kit.schema import Id
from guanxi.notification import service as notifications
from guanxi.web.nav import MODULES
from guanxi.web.render import page
from guanxi.web.session import ConsoleDep
from guanxi.workspace import members

router = APIRouter()


@router.get("/contacts", response_class=HTMLResponse)
def contact_list(
    request: Request,
    console: ConsoleDep,
    q: str | None = None,
    stage: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    rows, next_cursor = contacts.list_contacts(
        console.session,
        console.principal,
        q=q or None,
        owner_id=None,
        stage=stage or None,
        source=None,
        account_id=None,
        status="active",
        custom={},
        sort="-created_at",
        limit=50,
        cursor=cursor,
    )
    items = [r.Contact for r in rows]
    owners = (
        members.names(console.session, console.principal, {c.owner_id for c in items if c.owner_id})
        if console.principal.can("users:read")
        else {}
    )
    return page(
        request,
        "contacts/list.html",
        console=console,
        modules=MODULES,
        active="contacts",
        contacts=items,
        owners=owners,
        q=q or "",
        stage=stage or "",
        next_cursor=next_cursor,
        can_write=console.principal.can("contacts:write"),
    )


@router.get("/contacts/{contact_id}", response_class=HTMLResponse)
def contact_view(
    request: Request, console: ConsoleDep, contact_id: Id, cursor: str | None = None
) -> HTMLResponse:
    s, actor = console.session, console.principal
    contact = contacts.get(s, actor, contact_id)
    timeline, next_cursor = events.timeline(
        s, actor.workspace_id, contact.id, types=[], limit=50, cursor=cursor
    )
    return page(
        request,
        "contacts/view.html",
        console=console,
        modules=MODULES,
        active="contacts",
        contact=contact,
        identities=identities.of_contacts(s, actor.workspace_id, [contact.id]),
        accounts=accounts.accounts_of(s, actor, contact.id),
        consent=contacts.consents(s, actor.workspace_id, contact.id),
        merges=identities.merges_of(s, actor.workspace_id, contact.id),
        events=[r.Event for r in timeline],
        next_cursor=next_cursor,
        can_write=actor.can("contacts:write"),
        owner=members.names(s, actor, {contact.owner_id}).get(contact.owner_id)
        if contact.owner_id and actor.can("users:read")
        else None,
    )


@router.get("/duplicates", response_class=HTMLResponse)
def duplicates(request: Request, console: ConsoleDep) -> HTMLResponse:
    pairs = duplicate_pairs.suggestions(console.session, console.principal, 100)
    return page(
        request,
        "contacts/duplicates.html",
        console=console,
        modules=MODULES,
        active="contacts",
        pairs=pairs,
        can_write=console.principal.can("contacts:write"),
    )


@router.post("/duplicates/merge")
def merge_pair(
    console: ConsoleDep, keep: Annotated[Id, Form()], other: Annotated[Id, Form()]
) -> RedirectResponse:
    merging.merge_manual(console.session, console.principal, keep, other, utcnow())
    return RedirectResponse("/app/duplicates", status_code=303)


@router.post("/merges/{merge_id}/undo")
def undo_merge(console: ConsoleDep, merge_id: Id) -> RedirectResponse:
    log = merging.undo(console.session, console.principal, merge_id, utcnow())
    return RedirectResponse(f"/app/contacts/{log.survivor_id}", status_code=303)


@router.get("/accounts", response_class=HTMLResponse)
def account_list(
    request: Request, console: ConsoleDep, q: str | None = None, cursor: str | None = None
) -> HTMLResponse:
    rows, next_cursor = accounts.list_accounts(
        console.session,
        console.principal,
        q=q or None,
        tier=None,
        industry=None,
        owner_id=None,
        sort="name",
        limit=50,
        cursor=cursor,
    )
    return page(
        request,
        "accounts/list.html",
        console=console,
        modules=MODULES,
        active="accounts",
        accounts=[r.Account for r in rows],
        q=q or "",
        next_cursor=next_cursor,
    )


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
def account_view(request: Request, console: ConsoleDep, account_id: Id) -> HTMLResponse:
    account = accounts.get(console.session, console.principal, account_id)
    chart = accounts.org_chart(console.session, console.principal, account.id)
    return page(
        request,
        "accounts/view.html",
        console=console,
        modules=MODULES,
        active="accounts",
        account=account,
        chart=chart,
    )


@router.get("/notifications", response_class=HTMLResponse)
def notification_list(request: Request, console: ConsoleDep) -> HTMLResponse:
    notes = notifications.mine(console.session, console.principal, unread_only=False, limit=100)
    actors = {int(n.payload["actor_id"]) for n in notes if n.payload.get("actor_id")}
    names = (
        members.names(console.session, console.principal, actors)
        if actors and console.principal.can("users:read")
        else {}
    )
    return page(
        request,
        "notifications.html",
        console=console,
        modules=MODULES,
        active="home",
        notes=notes,
        names={str(k): v for k, v in names.items()},
    )


@router.post("/notifications/read")
def read_all(console: ConsoleDep) -> RedirectResponse:
    notifications.mark_read(console.session, console.principal, None, utcnow())
    return RedirectResponse("/app/notifications", status_code=303)


@router.post("/exports")
def start_export(
    console: ConsoleDep,
    fmt: Annotated[str, Form(alias="format", pattern="^(csv|xlsx)$")] = "xlsx",
    q: Annotated[str, Form(max_length=120)] = "",
    stage: Annotated[str, Form(max_length=32)] = "",
) -> RedirectResponse:
    filters = {k: v for k, v in (("q", q), ("stage", stage)) if v}
    job = exports.start(console.session, console.principal, fmt, filters)
    return RedirectResponse(f"/app/exports/{job.id}", status_code=303)


@router.get("/exports/{job_id}", response_class=HTMLResponse)
def export_status(request: Request, console: ConsoleDep, job_id: Id) -> HTMLResponse:
    job = exports.get(console.session, console.principal, job_id)
    return page(
        request,
        "contacts/export.html",
        console=console,
        modules=MODULES,
        active="contacts",
        job=job,
    )
