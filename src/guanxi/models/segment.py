"""Segments (分群): dynamic ones (a condition, kept current as events and changes arrive) and
static lists; who is in each, every entry and exit, and the timers that re-check a member when a
relative time window of the condition moves past their data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from guanxi.models.base import Base, JSONType, UTCDateTime, created_at_column, id_column


def _workspace() -> Mapped[int]:
    return mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )


class Segment(Base):
    __tablename__ = "segment"

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(8), default="dynamic")  # dynamic | static
    condition: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # the segments the condition names (in_segment), to refuse cycles and to order evaluation
    refers_to: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()
    rebuilt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SegmentMember(Base):
    __tablename__ = "segment_member"
    __table_args__ = (Index("ix_segment_member_contact", "workspace_id", "contact_id"),)

    workspace_id: Mapped[int] = _workspace()
    segment_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime())


class SegmentChange(Base):
    """A contact entered (or left) a segment: when, and what caused it (event, change, timer,
    rebuild, manual, api, import)."""

    __tablename__ = "segment_change"
    __table_args__ = (Index("ix_segment_change_segment", "workspace_id", "segment_id", "at"),)

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    segment_id: Mapped[int] = mapped_column(BigInteger)
    contact_id: Mapped[int] = mapped_column(BigInteger)
    entered: Mapped[bool] = mapped_column(Boolean)
    cause: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class SegmentTimer(Base):
    """Re-check this contact for this segment at ``due_at``: the moment a relative window (or a
    decaying score) of the condition may change the answer with no new data."""

    __tablename__ = "segment_timer"
    __table_args__ = (Index("ix_segment_timer_due", "due_at"),)

    workspace_id: Mapped[int] = _workspace()
    segment_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
