"""Events: what a contact did or what was done to them, immutable once written.

``origin_contact_id`` is who the event was recorded for and never changes; ``contact_id`` is the
profile it belongs to now — a merge moves it to the survivor, an undo moves it back, by origin.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from guanxi.models.base import Base, JSONType, UTCDateTime, created_at_column, id_column


class Event(Base):
    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_contact_time", "workspace_id", "contact_id", "occurred_at"),
        Index("ix_event_type_time", "workspace_id", "type", "occurred_at"),
        UniqueConstraint("workspace_id", "idempotency_key", name="uq_event_idempotency"),
    )

    workspace_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = id_column()
    contact_id: Mapped[int] = mapped_column(BigInteger)
    origin_contact_id: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = created_at_column()
    channel: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str | None] = mapped_column(String(120))
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
