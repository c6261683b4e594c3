"""Lifecycle (生命周期): a workspace's stages in funnel order and every move a contact made."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from guanxi.models.base import Base, JSONType, UTCDateTime, id_column


def _workspace() -> Mapped[int]:
    return mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )


class LifecycleStage(Base):
    """A stage: ``key`` is what ``contact.stage`` holds; ``position`` orders the funnel;
    ``entry_rule`` (the condition language) moves a contact forward into it automatically;
    ``kind`` funnel, or exit (churned: off the line, entered by rule or by hand)."""

    __tablename__ = "lifecycle_stage"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    key: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8), default="funnel")
    entry_rule: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class StageChange(Base):
    """One move: from where to where, when, why (rule, user, api, journey, import) and by
    whom; ``backward`` for a recycle or win-back. Funnel analytics are computed from these."""

    __tablename__ = "stage_change"
    __table_args__ = (
        Index("ix_stage_change_contact", "workspace_id", "contact_id", "changed_at"),
        Index("ix_stage_change_to", "workspace_id", "to_stage", "changed_at"),
    )

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    contact_id: Mapped[int] = mapped_column(BigInteger)
    from_stage: Mapped[str | None] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    cause: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(String(255))
    backward: Mapped[bool] = mapped_column(default=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
