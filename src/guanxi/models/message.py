"""Messaging: channel accounts (with encrypted credentials), templates, the outbox (one row per
message, unique by its idempotency key), every send attempt, consent's other half — suppression
lists — the workspace's sending policy, and broadcasts (one message to a segment)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from guanxi.models.base import Base, JSONType, UTCDateTime, created_at_column, id_column


def _workspace() -> Mapped[int]:
    return mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )


class ChannelAccount(Base):
    """A way to send on one channel: an SMTP server, a provider account, the sandbox. Secrets
    (passwords, API keys) are kept encrypted in ``secrets``; ``config`` holds the rest."""

    __tablename__ = "channel_account"

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    channel: Mapped[str] = mapped_column(String(16))  # email | sms | wecom | wechat | whatsapp
    kind: Mapped[str] = mapped_column(String(24))  # the connector: smtp | sandbox | …
    name: Mapped[str] = mapped_column(String(120))
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    secrets: Mapped[str | None] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    rate_per_s: Mapped[float | None] = mapped_column(Float)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class MessageTemplate(Base):
    """What a send says: subject, HTML and text for email; text and provider template data for
    the other channels. ``revision`` grows with every edit (a compiled template is cached by it)."""

    __tablename__ = "message_template"

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    channel: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str | None] = mapped_column(String(300))
    html: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class Message(Base):
    """The outbox. ``status``: queued → sending → sent | failed | skipped (consent, suppression,
    cap, no address …, with ``reason``) | cancelled. ``due_at`` is when it may go (quiet hours
    and retries move it); a ``sending`` row carries the lease of the dispatcher that holds it,
    so a killed dispatcher's messages are taken again — with the same key — when it runs out."""

    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("workspace_id", "key"),
        Index(
            "ix_message_due",
            "due_at",
            postgresql_where=text("status IN ('queued', 'sending')"),
            sqlite_where=text("status IN ('queued', 'sending')"),
        ),
        Index("ix_message_contact", "workspace_id", "contact_id", "created_at"),
        Index(
            "ix_message_provider",
            "workspace_id",
            "provider_id",
            postgresql_where=text("provider_id IS NOT NULL"),
            sqlite_where=text("provider_id IS NOT NULL"),
        ),
        Index(
            "ix_message_journey",
            "workspace_id",
            "journey_id",
            "node_id",
            postgresql_where=text("journey_id IS NOT NULL"),
            sqlite_where=text("journey_id IS NOT NULL"),
        ),
    )

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    key: Mapped[str] = mapped_column(String(160))
    channel: Mapped[str] = mapped_column(String(16))
    channel_account_id: Mapped[int | None] = mapped_column(BigInteger)
    contact_id: Mapped[int | None] = mapped_column(BigInteger)
    to_address: Mapped[str | None] = mapped_column(String(254))
    template_id: Mapped[int | None] = mapped_column(BigInteger)
    marketing: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    reason: Mapped[str | None] = mapped_column(String(40))
    due_at: Mapped[datetime] = created_at_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    provider_id: Mapped[str | None] = mapped_column(String(200))
    journey_id: Mapped[int | None] = mapped_column(BigInteger)
    enrolment_id: Mapped[int | None] = mapped_column(BigInteger)
    node_id: Mapped[str | None] = mapped_column(String(40))
    broadcast_id: Mapped[int | None] = mapped_column(BigInteger)
    sender_id: Mapped[int | None] = mapped_column(BigInteger)
    variables: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = created_at_column()
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MessageAttempt(Base):
    """One try at handing a message to its provider, and how it ended."""

    __tablename__ = "message_attempt"

    workspace_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(12))  # sent | retry | failed
    detail: Mapped[str | None] = mapped_column(String(500))


class Suppression(Base):
    """An address nothing may be sent to on a channel: a hard bounce, a complaint, an
    unsubscribe from everything, or a list a user loaded."""

    __tablename__ = "suppression"
    __table_args__ = (UniqueConstraint("workspace_id", "channel", "address"),)

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(254))
    reason: Mapped[str] = mapped_column(String(24))  # bounce | complaint | unsubscribe | manual
    source: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(String(300))
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()


class SendingPolicy(Base):
    """The workspace's rules for marketing messages: quiet hours in the contact's timezone and
    frequency caps per channel and overall (``caps``: ``[{"channel": "all"|…, "count", "days"}]``).
    Transactional messages are held by neither."""

    __tablename__ = "sending_policy"

    workspace_id: Mapped[int] = _workspace()
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # "21:00"
    quiet_end: Mapped[str | None] = mapped_column(String(5))  # "08:00"
    caps: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    # channels that need an explicit opt-in; on the others, a contact who did not opt out may
    # receive marketing
    opt_in_channels: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    updated_at: Mapped[datetime] = created_at_column()


class Broadcast(Base):
    """One message to a segment (an email blast). It is sent by a job that pages through the
    segment by contact id, writing a keyed message per contact, so a crash resumes where it
    stopped and never writes a second message for anyone."""

    __tablename__ = "broadcast"

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(16))
    template_id: Mapped[int] = mapped_column(BigInteger)
    segment_id: Mapped[int] = mapped_column(BigInteger)
    marketing: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()
