"""Events: what a contact did or what was done to them, immutable once written.

``origin_contact_id`` is who the event was recorded for and never changes; ``contact_id`` is the
profile it belongs to now — a merge moves it to the survivor, an undo moves it back, by origin.

On PostgreSQL ``event`` is range-partitioned by month of ``occurred_at`` (``event_pYYYYMM``,
created as events for a month first arrive: ``guanxi.event.partitions``); a table per month
keeps each partition's indexes small and hot, and old months can be dropped or archived whole.
A primary key would have to include ``occurred_at`` and cost one more index per insert for
lookups nobody makes, so the table has none: rows are found by contact or by type and time.
Idempotency keys live in ``event_key`` (one table, not partitioned), because a unique index on
a partitioned table must contain the partition key and a retry may not repeat the timestamp.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from guanxi.models.base import Base, JSONType, UTCDateTime, created_at_column


class Event(Base):
    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_contact_time", "workspace_id", "contact_id", "occurred_at"),
        Index("ix_event_type_time", "workspace_id", "type", "occurred_at"),
        Index("ix_event_received", "workspace_id", "received_at"),
        {"postgresql_partition_by": "RANGE (occurred_at)"},
    )
    __mapper_args__ = {"primary_key": ["workspace_id", "id"]}  # noqa: RUF012

    workspace_id: Mapped[int] = mapped_column(BigInteger)
    id: Mapped[int] = mapped_column(BigInteger)
    contact_id: Mapped[int] = mapped_column(BigInteger)
    origin_contact_id: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str | None] = mapped_column(String(120))
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class EventKey(Base):
    """An idempotency key seen, as a 128-bit hash (fixed width, collision-free in practice),
    and the event it stored: a retry is answered with that event."""

    __tablename__ = "event_key"

    workspace_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger)
    contact_id: Mapped[int] = mapped_column(BigInteger)


class EventType(Base):
    """A workspace's own event type with the properties it declares (built-in types live in
    ``guanxi.event.catalogue``)."""

    __tablename__ = "event_type"

    workspace_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(120))
    properties: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = created_at_column()


class TrackingSite(Base):
    """Web tracking for a workspace: the public site key its snippet carries, and the origins
    allowed to send (CORS)."""

    __tablename__ = "tracking_site"

    workspace_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    site_key: Mapped[str] = mapped_column(String(32), unique=True)
    allowed_origins: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = created_at_column()
