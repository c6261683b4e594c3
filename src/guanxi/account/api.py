"""Routes for accounts, their contacts and org chart."""

from __future__ import annotations

import itertools
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from guanxi.account import service
from guanxi.account.schemas import AccountIn, AccountOut, AccountPatch, LinkIn, MemberLinkOut, Tier
from guanxi.contact import export
from guanxi.http.deps import DB, Actor, Listing
from guanxi.http.errors import errors
from guanxi.kit.clock import utcnow
from guanxi.kit.page import Page
from guanxi.kit.schema import Id

router = APIRouter(tags=["accounts"])


def account_filters(
    q: Annotated[
        str | None, Query(max_length=200, description="Part of the name or domain.")
    ] = None,
    tier: Tier | None = None,
    industry: Annotated[str | None, Query(max_length=80)] = None,
    owner_id: Annotated[Id | None, Query()] = None,
) -> dict[str, Any]:
    """The filters of the account list, shared by the list and its export."""
    return {"q": q or None, "tier": tier, "industry": industry, "owner_id": owner_id}


Filters = Annotated[dict[str, Any], Depends(account_filters)]


@router.get("/accounts", response_model=Page[AccountOut])
def list_accounts(
    actor: Actor, session: DB, listing: Listing, filters: Filters
) -> Page[AccountOut]:
    rows, cursor = service.list_accounts(
        session,
        actor,
        **filters,
        sort=listing.sort,
        limit=listing.limit,
        cursor=listing.cursor,
    )
    return Page(items=[AccountOut.model_validate(r.Account) for r in rows], next_cursor=cursor)


@router.get("/accounts/export.csv", response_class=StreamingResponse, responses=errors(400, 422))
def export_accounts(request: Request, actor: Actor, filters: Filters) -> StreamingResponse:
    """The accounts the list would show with the same filters, as CSV, streamed, custom fields
    as ``custom.<key>`` columns."""
    chunks = export.csv_chunks(request.app.state.sessionmaker, actor, filters, export.ACCOUNTS)
    first = next(chunks)  # checks permission and filters before the answer starts
    headers = {"Content-Disposition": 'attachment; filename="accounts.csv"'}
    body = (chunk.encode() for chunk in itertools.chain([first], chunks))
    return StreamingResponse(body, media_type="text/csv; charset=utf-8", headers=headers)


@router.post("/accounts", response_model=AccountOut, status_code=201, responses=errors(404))
def create_account(data: AccountIn, actor: Actor, session: DB) -> AccountOut:
    return AccountOut.model_validate(service.create(session, actor, data, utcnow()))


@router.get("/accounts/{account_id}", response_model=AccountOut)
def get_account(account_id: Id, actor: Actor, session: DB) -> AccountOut:
    return AccountOut.model_validate(service.get(session, actor, account_id))


@router.patch("/accounts/{account_id}", response_model=AccountOut)
def update_account(account_id: Id, data: AccountPatch, actor: Actor, session: DB) -> AccountOut:
    return AccountOut.model_validate(
        service.update(session, actor, account_id, data.changes(), utcnow())
    )


@router.get("/accounts/{account_id}/contacts", response_model=list[MemberLinkOut])
def org_chart(account_id: Id, actor: Actor, session: DB) -> list[MemberLinkOut]:
    """The account's contacts as an org chart: those who report to no one at the top, each
    with ``reports`` below them."""
    return service.org_chart(session, actor, account_id)


@router.put(
    "/accounts/{account_id}/contacts/{contact_id}",
    response_model=MemberLinkOut,
    responses=errors(400),
)
def link_contact(
    account_id: Id, contact_id: Id, data: LinkIn, actor: Actor, session: DB
) -> MemberLinkOut:
    """Put a contact at the account, with a role, a title and whom they report to there."""
    row = service.link(session, actor, account_id, contact_id, data, utcnow())
    return MemberLinkOut(
        contact_id=row.contact_id,
        name=None,
        email=None,
        role=row.role,
        title=row.title,
        reports_to_id=row.reports_to_id,
    )


@router.delete("/accounts/{account_id}/contacts/{contact_id}", status_code=204)
def unlink_contact(account_id: Id, contact_id: Id, actor: Actor, session: DB) -> Response:
    """Remove a contact from the account; whoever reported to them moves up a level."""
    service.unlink(session, actor, account_id, contact_id)
    return Response(status_code=204)
