"""Outbound webhooks: endpoints subscribed to event types, each delivery (one event to one
endpoint) with its retries, and every attempt's answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from guanxi.models.base import Base, JSONType, UTCDateTime, created_at_column, id_column


def _workspace() -> Mapped[int]:
    return mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )


class WebhookEndpoint(Base):
    """``secret`` is encrypted at rest; it signs every payload (HMAC-SHA256 with a timestamp).
    An endpoint that keeps failing is disabled (``disabled_at``, ``disabled_reason``)."""

    __tablename__ = "webhook_endpoint"

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(300))
    event_types: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    secret: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive failed deliveries
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_reason: Mapped[str | None] = mapped_column(String(40))
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()


class WebhookDelivery(Base):
    """``status``: pending → delivering → delivered | failed (retries used up, or the endpoint
    was disabled). ``due_at`` is the next try; ``delivering`` rows hold a lease."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index(
            "ix_webhook_delivery_due",
            "due_at",
            postgresql_where=text("status IN ('pending', 'delivering')"),
            sqlite_where=text("status IN ('pending', 'delivering')"),
        ),
        Index("ix_webhook_delivery_endpoint", "workspace_id", "endpoint_id", "created_at"),
    )

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    endpoint_id: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = created_at_column()
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = created_at_column()
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempt"

    workspace_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    ms: Mapped[float | None] = mapped_column()
    response: Mapped[str | None] = mapped_column(String(1000))
