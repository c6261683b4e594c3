"""Turning events into deliveries: the webhook reactor, and ``queue`` for a single delivery
(journey webhook nodes, test pings). Both write ``pending`` rows only; ``dispatch`` sends them.

A delivery's payload is the whole body it will be sent with — an envelope
``{"id", "type", "workspace_id", "created_at", "data"}`` whose ``id`` is the delivery's id — so
every retry sends the same document (signed anew with its own timestamp).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guanxi.db import bulk_insert, upsert_statement
from guanxi.event.records import Draft, Stored
from guanxi.kit.clock import utcnow
from guanxi.kit.ids import MAX_ID, new_ids
from guanxi.models import WebhookDelivery, WebhookEndpoint
from guanxi.webhook.schemas import ALL


def subscribed(event_types: Sequence[str], event_type: str) -> bool:
    return ALL in event_types or event_type in event_types


def envelope(
    delivery_id: int, workspace_id: int, event_type: str, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "id": str(delivery_id),
        "type": event_type,
        "workspace_id": str(workspace_id),
        "created_at": now.isoformat(),
        "data": data,
    }


def event_data(event: Stored) -> dict[str, Any]:
    return {
        "event_id": str(event.id),
        "contact_id": str(event.contact_id),
        "occurred_at": event.occurred_at.isoformat(),
        "channel": event.channel,
        "source": event.source,
        "properties": event.properties,
    }


def _row(
    workspace_id: int,
    delivery_id: int,
    endpoint_id: int,
    event_id: int | None,
    event_type: str,
    data: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id,
        "id": delivery_id,
        "endpoint_id": endpoint_id,
        "event_id": event_id,
        "event_type": event_type,
        "payload": envelope(delivery_id, workspace_id, event_type, data, now),
        "status": "pending",
        "attempts": 0,
        "due_at": now,
        "created_at": now,
    }


def react(
    session: Session, workspace_id: int, events: Sequence[Stored], now: datetime
) -> list[Draft]:
    """One pending delivery per (event, enabled endpoint subscribed to its type), written with
    one statement; derives no events. The endpoints are read once per batch: a workspace has a
    handful, and reading them fresh means an endpoint changed a moment ago applies at once."""
    endpoints = session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
            WebhookEndpoint.workspace_id == workspace_id, WebhookEndpoint.enabled.is_(True)
        )
    ).all()
    if not endpoints:
        return []
    pairs = [(e, ep.id) for e in events for ep in endpoints if subscribed(ep.event_types, e.type)]
    ids = new_ids(len(pairs))
    rows = [
        _row(workspace_id, i, endpoint_id, e.id, e.type, event_data(e), now)
        for i, (e, endpoint_id) in zip(ids, pairs, strict=True)
    ]
    bulk_insert(session, WebhookDelivery, rows)
    return []


def keyed_id(workspace_id: int, endpoint_id: int, key: str) -> int:
    """The delivery id an idempotency key stands for: the same key to the same endpoint is
    the same primary key, so a repeated ``queue`` writes nothing new."""
    raw = hashlib.blake2b(f"{workspace_id}:{endpoint_id}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(raw, "big") & MAX_ID or 1


def queue(
    session: Session,
    workspace_id: int,
    endpoint_id: int,
    event_type: str,
    payload: dict[str, Any],
    key: str | None = None,
    *,
    now: datetime | None = None,
) -> int | None:
    """Send ``payload`` (the envelope's ``data``) to one endpoint as an ``event_type`` delivery,
    whatever the endpoint subscribes to. With ``key`` (e.g. enrolment, node and rotation of a
    journey step) it is queued at most once. Returns the delivery's id, or None when the
    endpoint does not exist in the workspace or is disabled (nothing is queued)."""
    now = now or utcnow()
    endpoint = session.get(WebhookEndpoint, (workspace_id, endpoint_id))
    if endpoint is None or not endpoint.enabled:
        return None
    delivery_id = keyed_id(workspace_id, endpoint_id, key) if key else new_ids(1)[0]
    row = _row(workspace_id, delivery_id, endpoint_id, None, event_type, payload, now)
    session.execute(upsert_statement(session, WebhookDelivery).values(row).on_conflict_do_nothing())
    return delivery_id
