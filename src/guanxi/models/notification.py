"""In-app notifications to members, and collision records (撞单): someone else's record touched."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from guanxi.models.base import Base, JSONType, UTCDateTime, created_at_column, id_column


class Notification(Base):
    """What a member should know. ``kind`` and ``payload`` are rendered in the reader's
    language when shown, so nothing is stored pre-translated."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user", "workspace_id", "user_id", "created_at"),)

    workspace_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = id_column()
    user_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = created_at_column()
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Collision(Base):
    __tablename__ = "collision"
    __table_args__ = (
        Index("ix_collision_owner", "workspace_id", "owner_id", "created_at"),
        Index("ix_collision_object", "workspace_id", "object", "object_id"),
    )

    workspace_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = id_column()
    object: Mapped[str] = mapped_column(String(16))  # contact | account
    object_id: Mapped[int] = mapped_column(BigInteger)
    owner_id: Mapped[int] = mapped_column(BigInteger)
    actor_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_at_column()
