"""Routes for messaging: channel accounts and their connectors, templates with a preview per
contact, sending one message, the message log, the sending policy, broadcasts, and the
inbound endpoint providers (or a mail server's bounce pipe) report to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select

from guanxi.auth.principal import Principal
from guanxi.channels.base import REGISTRY, InboundRejected, secret_fields
from guanxi.contact import service as contacts
from guanxi.errors import Forbidden
from guanxi.http.deps import DB, Actor, Listing
from guanxi.http.errors import errors
from guanxi.i18n import N_
from guanxi.kit.clock import utcnow
from guanxi.kit.page import Page
from guanxi.kit.pagination import SortSpec, paginate
from guanxi.kit.schema import Id
from guanxi.message import accounts, broadcasts, service, templates
from guanxi.message.schemas import (
    AccountIn,
    AccountOut,
    AttemptOut,
    BroadcastIn,
    BroadcastOut,
    ConnectorOut,
    InboundOut,
    MessageDetail,
    MessageOut,
    PolicyIn,
    PolicyOut,
    PreviewIn,
    PreviewOut,
    SendIn,
    TemplateIn,
    TemplateOut,
)
from guanxi.models import ChannelAccount, Message

router = APIRouter(tags=["messaging"])


class InboundRefused(Forbidden):
    code = "inbound_rejected"
    message = N_("The callback failed its authenticity check.")


def _account_out(row: ChannelAccount, secret_key: str) -> AccountOut:
    return AccountOut(
        id=row.id,
        channel=row.channel,
        kind=row.kind,
        name=row.name,
        config=row.config,
        secrets_set=sorted(accounts.unsealed(secret_key, row)),
        is_default=row.is_default,
        rate_per_s=row.rate_per_s,
        enabled=row.enabled,
        updated_at=row.updated_at,
    )


def _secret(request: Request) -> str:
    return str(request.app.state.settings.secret_key)


@router.get("/connectors", response_model=list[ConnectorOut])
def connectors(actor: Actor) -> list[ConnectorOut]:
    """The connectors a channel account can use, with the settings each takes."""
    actor.require("channels:read")
    return [
        ConnectorOut(kind=k, settings=c.Config.model_json_schema(), secrets=secret_fields(c.Config))
        for k, c in sorted(REGISTRY.items())
    ]


@router.get("/channel-accounts", response_model=list[AccountOut])
def list_accounts(request: Request, actor: Actor, session: DB) -> list[AccountOut]:
    actor.require("channels:read")
    return [_account_out(r, _secret(request)) for r in accounts.listed(session, actor)]


def _save(
    request: Request, actor: Principal, session: DB, data: AccountIn, row: ChannelAccount | None
) -> AccountOut:
    actor.require("channels:write")
    saved = accounts.save(
        session,
        actor,
        _secret(request),
        utcnow(),
        row=row,
        channel=data.channel,
        kind=data.kind,
        name=data.name,
        config=data.config,
        is_default=data.is_default,
        rate_per_s=data.rate_per_s,
        enabled=data.enabled,
    )
    return _account_out(saved, _secret(request))


@router.post("/channel-accounts", response_model=AccountOut, status_code=201)
def create_account(data: AccountIn, request: Request, actor: Actor, session: DB) -> AccountOut:
    """A way to send on a channel (422 ``invalid_channel_config`` names the setting that is
    wrong). The first account of a channel is its default."""
    return _save(request, actor, session, data, None)


@router.get("/channel-accounts/{channel_account_id}", response_model=AccountOut)
def get_account(channel_account_id: Id, request: Request, actor: Actor, session: DB) -> AccountOut:
    actor.require("channels:read")
    return _account_out(accounts.get(session, actor, channel_account_id), _secret(request))


@router.put("/channel-accounts/{channel_account_id}", response_model=AccountOut)
def update_account(
    channel_account_id: Id, data: AccountIn, request: Request, actor: Actor, session: DB
) -> AccountOut:
    actor.require("channels:write")
    return _save(request, actor, session, data, accounts.get(session, actor, channel_account_id))


@router.delete("/channel-accounts/{channel_account_id}", status_code=204)
def delete_account(channel_account_id: Id, actor: Actor, session: DB) -> Response:
    """Refused (409 ``in_use``, ``details.by``: messages, broadcast or journey) while messages
    wait to go through it, or while it is its channel's only enabled account and messages wait
    on that channel, a broadcast on it is being written, or a running or paused journey sends
    on it."""
    actor.require("channels:write")
    accounts.delete(session, actor, channel_account_id)
    return Response(status_code=204)


@router.post("/channel-accounts/{channel_account_id}/inbound", response_model=InboundOut)
async def inbound(
    channel_account_id: Id, request: Request, actor: Actor, session: DB
) -> InboundOut:
    """What the provider reports, as it sends it: for email, a bounce (RFC 3464 DSN) or a
    complaint (RFC 5965 ARF) as the raw message. Hard bounces and complaints put the address
    on the suppression list; each report is an event on the message's contact."""
    actor.require("messages:write")
    row = accounts.get(session, actor, channel_account_id)
    body = await request.body()
    connector = REGISTRY[row.kind].from_settings(
        row.config | accounts.unsealed(_secret(request), row)
    )
    try:
        found = connector.parse_inbound(body, dict(request.headers))
    except InboundRejected as exc:
        raise InboundRefused() from exc
    return InboundOut(applied=service.take_inbound(session, actor.workspace_id, found, utcnow()))


@router.get("/templates", response_model=list[TemplateOut])
def list_templates(
    actor: Actor, session: DB, channel: Annotated[str | None, Query(max_length=16)] = None
) -> list[TemplateOut]:
    return [TemplateOut.model_validate(t) for t in templates.listed(session, actor, channel)]


@router.post("/templates", response_model=TemplateOut, status_code=201)
def create_template(data: TemplateIn, actor: Actor, session: DB) -> TemplateOut:
    """A template that does not compile is 422 ``invalid_template`` with the line."""
    return TemplateOut.model_validate(templates.save(session, actor, data.model_dump(), utcnow()))


@router.get("/templates/{template_id}", response_model=TemplateOut)
def get_template(template_id: Id, actor: Actor, session: DB) -> TemplateOut:
    return TemplateOut.model_validate(templates.get(session, actor, template_id))


@router.put("/templates/{template_id}", response_model=TemplateOut)
def update_template(template_id: Id, data: TemplateIn, actor: Actor, session: DB) -> TemplateOut:
    row = templates.get(session, actor, template_id, write=True)
    return TemplateOut.model_validate(
        templates.save(session, actor, data.model_dump(), utcnow(), row)
    )


@router.delete("/templates/{template_id}", status_code=204)
def delete_template(template_id: Id, actor: Actor, session: DB) -> Response:
    """Refused (409 ``template_in_use``) while a journey sends it or a message waits with it."""
    templates.delete(session, actor, template_id)
    return Response(status_code=204)


@router.post("/templates/{template_id}/preview", response_model=PreviewOut)
def preview(
    template_id: Id, data: PreviewIn, request: Request, actor: Actor, session: DB
) -> PreviewOut:
    """The template as one contact would read it."""
    done = templates.preview(
        session, actor, template_id, data.contact_id, request.app.state.settings
    )
    return PreviewOut(subject=done.subject, html=done.html, text=done.text)


@router.post("/messages", response_model=MessageOut, status_code=202, responses=errors(404))
def send(data: SendIn, response: Response, actor: Actor, session: DB) -> MessageOut:
    """Queue one message (202); the same ``key`` again answers 200 with the first message."""
    row, new = service.send(
        session,
        actor,
        contact_id=data.contact_id,
        template_id=data.template_id,
        marketing=data.marketing,
        key=data.key,
        variables=data.variables,
        now=utcnow(),
    )
    if not new:
        response.status_code = 200
    return MessageOut.model_validate(row)


MESSAGE_SORT = SortSpec(
    fields={"created_at": Message.created_at}, tiebreak=Message.id, default="-created_at"
)


@router.get("/messages", response_model=Page[MessageOut], responses=errors(404))
def list_messages(
    listing: Listing,
    actor: Actor,
    session: DB,
    status: Annotated[str | None, Query(max_length=12)] = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    journey_id: Id | None = None,
    broadcast_id: Id | None = None,
    contact_id: Id | None = None,
) -> Page[MessageOut]:
    """The message log, newest first, with what happened to each (skipped with the reason)."""
    actor.require("messages:read")
    stmt = select(Message).where(Message.workspace_id == actor.workspace_id)
    if contact_id is not None:
        stmt = stmt.where(Message.contact_id == contacts.get(session, actor, contact_id).id)
    for column, value in (
        (Message.status, status),
        (Message.channel, channel),
        (Message.journey_id, journey_id),
        (Message.broadcast_id, broadcast_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    rows, cursor = paginate(
        session, stmt, MESSAGE_SORT, sort=listing.sort, limit=listing.limit, cursor=listing.cursor
    )
    return Page(items=[MessageOut.model_validate(r[0]) for r in rows], next_cursor=cursor)


@router.get("/messages/{message_id}", response_model=MessageDetail)
def get_message(message_id: Id, actor: Actor, session: DB) -> MessageDetail:
    row = service.get(session, actor, message_id)
    tries = [AttemptOut.model_validate(a) for a in service.attempts(session, row)]
    return MessageDetail.model_validate(
        {**MessageOut.model_validate(row).model_dump(), "tries": tries}
    )


@router.post("/messages/{message_id}/cancel", response_model=MessageOut)
def cancel(message_id: Id, actor: Actor, session: DB) -> MessageOut:
    """Only a queued message (409 ``message_not_cancellable`` once handed over)."""
    return MessageOut.model_validate(service.cancel(session, actor, message_id))


@router.get("/sending-policy", response_model=PolicyOut)
def get_policy(actor: Actor, session: DB) -> PolicyOut:
    return PolicyOut.model_validate(service.policy(session, actor))


@router.put("/sending-policy", response_model=PolicyOut)
def put_policy(data: PolicyIn, actor: Actor, session: DB) -> PolicyOut:
    row = service.set_policy(session, actor, data.model_dump(), utcnow())
    return PolicyOut.model_validate(row)


@router.get("/broadcasts", response_model=list[BroadcastOut])
def list_broadcasts(actor: Actor, session: DB) -> list[BroadcastOut]:
    return [BroadcastOut.model_validate(b) for b in broadcasts.listed(session, actor)]


@router.post("/broadcasts", response_model=BroadcastOut, status_code=201, responses=errors(404))
def create_broadcast(data: BroadcastIn, actor: Actor, session: DB) -> BroadcastOut:
    row = broadcasts.create(
        session,
        actor,
        name=data.name,
        template_id=data.template_id,
        segment_id=data.segment_id,
        marketing=data.marketing,
        now=utcnow(),
    )
    return BroadcastOut.model_validate(row)


@router.get("/broadcasts/{broadcast_id}", response_model=BroadcastOut)
def get_broadcast(broadcast_id: Id, actor: Actor, session: DB) -> BroadcastOut:
    return BroadcastOut.model_validate(broadcasts.get(session, actor, broadcast_id))


@router.post("/broadcasts/{broadcast_id}/send", response_model=BroadcastOut)
def send_broadcast(broadcast_id: Id, actor: Actor, session: DB) -> BroadcastOut:
    """Writes one message per member of the segment (a job, paged and resumable); they go
    out at the dispatcher's pace, each checked for consent, suppression, quiet hours and caps."""
    return BroadcastOut.model_validate(broadcasts.send(session, actor, broadcast_id, utcnow()))
