"""Content to share (hosted articles or outside links) and the tracked links that carry it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from guanxi.models.base import Base, created_at_column, id_column


class Content(Base):
    """An article guanxi hosts (``body``, read on the tracked page, which measures dwell time and
    scroll) or an outside page (``url``, where only the open is known)."""

    __tablename__ = "content"

    workspace_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = id_column()
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class TrackedLink(Base):
    """One short link per content × sender × recipient (or × channel code): every open through
    it is attributed to the sender (雷达)."""

    __tablename__ = "tracked_link"
    __table_args__ = (Index("ix_tracked_link_content", "workspace_id", "content_id", "sender_id"),)

    workspace_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = id_column()
    code: Mapped[str] = mapped_column(String(16), unique=True)
    content_id: Mapped[int] = mapped_column(BigInteger)
    sender_id: Mapped[int | None] = mapped_column(BigInteger)
    recipient_id: Mapped[int | None] = mapped_column(BigInteger)
    channel_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()
