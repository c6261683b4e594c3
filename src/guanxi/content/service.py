"""Content and tracked links: one short link per content × sender × recipient (or × channel
code). An open through it is a ``content_open`` of the recipient (or of the browser's anonymous
visitor, stitched later like any web visit) attributed to the sender, who is told in an in-app
notification (at most once an hour per link and reader); leaving a hosted article records a
``content_view`` with the time read and how far the reader scrolled."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.contact import service as contacts
from guanxi.content.schemas import ContentIn, LinkIn
from guanxi.errors import NotFound
from guanxi.event import ingest
from guanxi.i18n import N_
from guanxi.kit.ids import new_id
from guanxi.kit.secrets import new_token
from guanxi.models import Contact, Content, Notification, TrackedLink
from guanxi.notification import service as notifications

ALERT_EVERY = timedelta(hours=1)


def get(session: Session, actor: Principal, content_id: int) -> Content:
    actor.require("contacts:read")
    row = session.get(Content, (actor.workspace_id, content_id))
    if row is None:
        raise NotFound(resource=N_("Content"))
    return row


def list_content(session: Session, actor: Principal) -> Sequence[Content]:
    actor.require("contacts:read")
    stmt = select(Content).where(Content.workspace_id == actor.workspace_id)
    return session.scalars(stmt.order_by(Content.created_at.desc())).all()


def create(session: Session, actor: Principal, data: ContentIn, now: datetime) -> Content:
    actor.require("contacts:write")
    row = Content(
        workspace_id=actor.workspace_id,
        title=data.title,
        summary=data.summary,
        body=data.body,
        url=str(data.url) if data.url else None,
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def update(
    session: Session, actor: Principal, content_id: int, data: ContentIn, now: datetime
) -> Content:
    actor.require("contacts:write")
    row = get(session, actor, content_id)
    row.title, row.summary, row.body = data.title, data.summary, data.body
    row.url = str(data.url) if data.url else None
    row.updated_at = now
    session.flush()
    return row


def link(
    session: Session, actor: Principal, content_id: int, data: LinkIn, now: datetime
) -> TrackedLink:
    """The caller's link to this content for one recipient or channel code (made once)."""
    actor.require("contacts:write")
    content = get(session, actor, content_id)
    recipient = contacts.get(session, actor, data.recipient_id).id if data.recipient_id else None
    found = session.scalar(
        select(TrackedLink).where(
            TrackedLink.workspace_id == actor.workspace_id,
            TrackedLink.content_id == content.id,
            TrackedLink.sender_id == actor.user_id,
            TrackedLink.recipient_id.is_(None)
            if recipient is None
            else TrackedLink.recipient_id == recipient,
            TrackedLink.channel_code.is_(None)
            if data.channel_code is None
            else TrackedLink.channel_code == data.channel_code,
        )
    )
    if found is not None:
        return found
    row = TrackedLink(
        workspace_id=actor.workspace_id,
        id=new_id(),
        code=new_token(9)[:12],
        content_id=content.id,
        sender_id=actor.user_id,
        recipient_id=recipient,
        channel_code=data.channel_code,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def links(session: Session, actor: Principal, content_id: int) -> Sequence[TrackedLink]:
    content = get(session, actor, content_id)
    stmt = select(TrackedLink).where(
        TrackedLink.workspace_id == actor.workspace_id, TrackedLink.content_id == content.id
    )
    return session.scalars(stmt.order_by(TrackedLink.created_at.desc())).all()


def by_code(session: Session, code: str) -> tuple[TrackedLink, Content]:
    row = session.scalar(select(TrackedLink).where(TrackedLink.code == code))
    content = session.get(Content, (row.workspace_id, row.content_id)) if row else None
    if row is None or content is None:
        raise NotFound(resource=N_("Link"))
    return row, content


def _person(row: TrackedLink, anonymous_id: str | None) -> dict[str, Any]:
    if row.recipient_id is not None:
        return {"contact_id": str(row.recipient_id)}
    return {"anonymous_id": anonymous_id}


def _props(row: TrackedLink) -> dict[str, Any]:
    props: dict[str, Any] = {"content_id": str(row.content_id), "link_code": row.code}
    if row.sender_id is not None:
        props["sender_id"] = str(row.sender_id)
    if row.channel_code:
        props["channel_code"] = row.channel_code
    return props


def opened(
    session: Session, row: TrackedLink, content: Content, anonymous_id: str, now: datetime
) -> None:
    """Record an open and tell the sender."""
    [result] = ingest.ingest(
        session,
        row.workspace_id,
        [
            {
                "type": "content_open",
                "channel": "content",
                "properties": _props(row),
                **_person(row, anonymous_id),
            }
        ],
        source="link",
        now=now,
    )
    if result.contact_id is None or row.sender_id is None:
        return
    recent = session.scalar(
        select(Notification.id).where(
            Notification.workspace_id == row.workspace_id,
            Notification.user_id == row.sender_id,
            Notification.kind == "content_opened",
            Notification.created_at >= now - ALERT_EVERY,
            Notification.payload["link_code"].as_string() == row.code,
            Notification.payload["contact_id"].as_string() == str(result.contact_id),
        )
    )
    if recent is not None:
        return
    reader = session.get(Contact, (row.workspace_id, result.contact_id))
    notifications.notify(
        session,
        row.workspace_id,
        row.sender_id,
        "content_opened",
        {
            "link_code": row.code,
            "contact_id": str(result.contact_id),
            "name": (reader.name if reader else None) or "",
            "title": content.title,
        },
        now,
    )


def read(
    session: Session,
    row: TrackedLink,
    anonymous_id: str | None,
    dwell_s: float,
    completion: float,
    now: datetime,
) -> None:
    person = _person(row, anonymous_id)
    if not any(person.values()):
        return
    ingest.ingest(
        session,
        row.workspace_id,
        [
            {
                "type": "content_view",
                "channel": "content",
                "properties": {
                    **_props(row),
                    "dwell_s": round(dwell_s, 1),
                    "completion": round(completion, 2),
                },
                **person,
            }
        ],
        source="link",
        now=now,
    )
