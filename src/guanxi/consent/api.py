"""Routes for suppression lists (add one or many, upload a CSV file, search, remove) and a
contact's consent on every channel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Response, UploadFile

from guanxi.consent import service, suppression
from guanxi.consent.schemas import (
    AddedOut,
    ChannelConsentOut,
    Reason,
    SuppressionIn,
    SuppressionOut,
)
from guanxi.contact import service as contacts
from guanxi.contact.schemas import Channel
from guanxi.http.deps import DB, Actor, Listing
from guanxi.http.errors import errors
from guanxi.kit.clock import utcnow
from guanxi.kit.page import Page
from guanxi.kit.schema import Id

router = APIRouter(tags=["consent"])


def added_out(result: suppression.Added) -> AddedOut:
    return AddedOut(
        added=result.added,
        existing=result.existing,
        invalid=result.invalid,
        invalid_examples=list(result.examples),
    )


@router.get("/suppressions", response_model=Page[SuppressionOut])
def list_suppressions(
    actor: Actor,
    session: DB,
    listing: Listing,
    channel: Channel | None = None,
    q: Annotated[str | None, Query(max_length=254, description="Part of an address.")] = None,
) -> Page[SuppressionOut]:
    """Addresses nothing is sent to. Sort by ``created_at`` (default: newest first) or
    ``address``."""
    rows, cursor = suppression.list_suppressions(
        session,
        actor,
        channel=channel,
        q=q,
        sort=listing.sort,
        limit=listing.limit,
        cursor=listing.cursor,
    )
    return Page(
        items=[SuppressionOut.model_validate(r.Suppression) for r in rows], next_cursor=cursor
    )


@router.post("/suppressions", response_model=AddedOut, responses=errors(422))
def add_suppressions(data: SuppressionIn, actor: Actor, session: DB) -> AddedOut:
    """Put one address or many on a channel's list: emails are compared lower-case, phone
    numbers in E.164. One invalid address refuses the call (422 ``invalid_addresses``, nothing
    written); addresses on the list already are counted in ``existing`` and left as they are."""
    result = suppression.add(
        session,
        actor,
        data.channel,
        data.all(),
        reason=data.reason,
        note=data.note,
        source="api",
        now=utcnow(),
    )
    return added_out(result)


@router.post("/suppressions/import", response_model=AddedOut, responses=errors(400))
def import_suppressions(
    file: UploadFile,
    channel: Annotated[Channel, Form()],
    actor: Actor,
    session: DB,
    reason: Annotated[Reason, Form()] = "manual",
    note: Annotated[str | None, Form(max_length=300)] = None,
) -> AddedOut:
    """Upload a CSV file of addresses (UTF-8 or GBK, up to 10 MB): the column headed
    ``address``, ``email``, ``phone`` (or 邮箱, 手机), else the first. Lines without a valid
    address are skipped and counted in ``invalid``."""
    data = file.file.read(suppression.MAX_FILE + 1)
    result = suppression.import_csv(
        session,
        actor,
        channel,
        data,
        reason=reason,
        note=note,
        source=f"import:{file.filename or 'csv'}",
        now=utcnow(),
    )
    return added_out(result)


@router.delete("/suppressions/{suppression_id}", status_code=204)
def remove_suppression(suppression_id: Id, actor: Actor, session: DB) -> Response:
    """Take an address off its list: messages may go to it again."""
    suppression.remove(session, actor, suppression_id)
    return Response(status_code=204)


@router.get("/contacts/{contact_id}/consent", response_model=Page[ChannelConsentOut])
def contact_consent(contact_id: Id, actor: Actor, session: DB) -> Page[ChannelConsentOut]:
    """The contact's consent on every channel and whether marketing may reach them there."""
    contact = contacts.get(session, actor, contact_id)
    items = [
        ChannelConsentOut.model_validate(
            {
                "channel": channel,
                "status": row.status if row else None,
                "source": row.source if row else None,
                "updated_at": row.updated_at if row else None,
                "marketing": why is None,
                "blocked_by": why,
            }
        )
        for channel, row, why in service.overview(session, actor.workspace_id, contact.id)
    ]
    return Page(items=items, next_cursor=None)
