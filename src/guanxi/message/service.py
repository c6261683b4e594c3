"""Messages through the API: one message to one contact (keyed, so a client's retry sends it
once), the message log with every attempt, cancelling what has not gone yet, the workspace's
sending policy, and what providers tell us back (bounces, complaints, deliveries)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.channels.base import InboundEvent
from guanxi.consent import suppression
from guanxi.contact import service as contacts
from guanxi.errors import Conflict, NotFound
from guanxi.event import service as events
from guanxi.event.records import Draft
from guanxi.i18n import N_
from guanxi.message import outbox, templates
from guanxi.message.outbox import event_properties
from guanxi.models import Message, MessageAttempt, SendingPolicy


class NotCancellable(Conflict):
    code = "message_not_cancellable"
    message = N_("Only a message that has not been handed to its provider can be cancelled.")


class TemplateChannel(Conflict):
    code = "template_channel"
    message = N_("The template is for {template}, not {channel}.")


def get(session: Session, actor: Principal, message_id: int) -> Message:
    actor.require("messages:read")
    row = session.get(Message, (actor.workspace_id, message_id))
    if row is None or (row.contact_id and not _visible(session, actor, row.contact_id)):
        raise NotFound(resource=N_("Message"))
    return row


def _visible(session: Session, actor: Principal, contact_id: int) -> bool:
    try:
        contacts.get(session, actor, contact_id)
    except NotFound:
        return False
    return True


def send(
    session: Session,
    actor: Principal,
    *,
    contact_id: int,
    template_id: int,
    marketing: bool,
    key: str | None,
    variables: dict[str, Any],
    now: datetime,
) -> tuple[Message, bool]:
    """Queue one message; returns it and whether it is new (a repeated ``key`` returns the
    first message and queues nothing)."""
    actor.require("messages:write")
    contact = contacts.get(session, actor, contact_id)
    template = templates.get(session, actor, template_id)
    full_key = outbox.api_key(key or uuid.uuid4().hex)
    written = outbox.enqueue(
        session,
        actor.workspace_id,
        [
            outbox.Draft(
                key=full_key,
                channel=template.channel,
                contact_id=contact.id,
                template_id=template.id,
                due_at=now,
                marketing=marketing,
                sender_id=actor.user_id,
                variables=variables,
            )
        ],
        now,
    )
    row = outbox.by_key(session, actor.workspace_id, full_key)
    assert row is not None
    return row, bool(written)


def cancel(session: Session, actor: Principal, message_id: int) -> Message:
    actor.require("messages:write")
    row = get(session, actor, message_id)
    # conditional: a dispatcher may be claiming it this very moment
    done = session.execute(
        update(Message)
        .where(
            Message.workspace_id == row.workspace_id,
            Message.id == row.id,
            Message.status == "queued",
        )
        .values(status="cancelled", reason="cancelled")
        .execution_options(synchronize_session=False)
    )
    if not getattr(done, "rowcount", 0):
        raise NotCancellable()
    session.refresh(row)
    return row


def attempts(session: Session, message: Message) -> Sequence[MessageAttempt]:
    return session.scalars(
        select(MessageAttempt)
        .where(
            MessageAttempt.workspace_id == message.workspace_id,
            MessageAttempt.message_id == message.id,
        )
        .order_by(MessageAttempt.n)
    ).all()


def policy(session: Session, actor: Principal) -> SendingPolicy:
    actor.require("messages:read")
    row = session.get(SendingPolicy, actor.workspace_id)
    return row or SendingPolicy(
        workspace_id=actor.workspace_id,
        quiet_start=None,
        quiet_end=None,
        caps=[],
        opt_in_channels=[],
    )


def set_policy(
    session: Session, actor: Principal, values: dict[str, Any], now: datetime
) -> SendingPolicy:
    actor.require("messages:write")
    row = session.get(SendingPolicy, actor.workspace_id)
    if row is None:
        row = SendingPolicy(workspace_id=actor.workspace_id)
        session.add(row)
    row.quiet_start, row.quiet_end = values["quiet_start"], values["quiet_end"]
    row.caps, row.opt_in_channels = values["caps"], values["opt_in_channels"]
    row.updated_at = now
    session.flush()
    return row


INBOUND_EVENT = {
    "bounced": "email_bounced",
    "complained": "email_complained",
    "delivered": "email_delivered",
}


def take_inbound(
    session: Session, workspace_id: int, found: Sequence[InboundEvent], now: datetime
) -> int:
    """Apply what a provider reported: a hard bounce or a complaint puts the address on the
    suppression list (a complaint also opts the contact out of email), and each report
    becomes an event on the contact of the message it names. Returns how many it applied."""
    applied = 0
    for report in found:
        message = _message_of(session, workspace_id, report.message_key)
        hard = report.kind == "bounced" and report.properties.get("bounce") == "hard"
        # a feedback loop may redact the recipient: the message we sent says who it was
        address = report.address or (message.to_address if message is not None else None)
        if address and (hard or report.kind == "complained"):
            kind: Literal["bounce", "complaint"] = "bounce" if hard else "complaint"
            suppression.from_bounce(session, workspace_id, address, kind, "dsn", now)
        if message is not None:
            if report.kind == "bounced":
                message.bounced_at = message.bounced_at or now
            if message.contact_id and report.kind in INBOUND_EVENT:
                props = {**event_properties(message), **_strings(report.properties)}
                events.store(
                    session,
                    workspace_id,
                    [
                        Draft(
                            message.contact_id,
                            INBOUND_EVENT[report.kind],
                            report.at or now,
                            props,
                            channel=message.channel,
                            source="provider",
                            key=f"{report.kind}:{message.id}:{report.properties.get('status', '')}",
                        )
                    ],
                    now,
                )
        applied += 1
    return applied


def _strings(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, str | int | float | bool) else str(v) for k, v in props.items()}


def _message_of(session: Session, workspace_id: int, key: str | None) -> Message | None:
    """The message a report names, by our key or by the provider's id (the Message-ID)."""
    if not key:
        return None
    row = outbox.by_key(session, workspace_id, key)
    if row is not None:
        return row
    bracketed = key if key.startswith("<") else f"<{key}>"
    return session.scalar(
        select(Message).where(
            Message.workspace_id == workspace_id, Message.provider_id.in_((key, bracketed))
        )
    )
