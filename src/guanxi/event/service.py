"""Recording events for a contact and reading a contact's timeline.

This is the write path every producer shares (the identify API now; batch ingestion, channels
and forms as they arrive). Idempotency keys make a retried call record nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from guanxi.event.schemas import EventIn
from guanxi.kit.pagination import SortSpec, paginate
from guanxi.models import Event


def record(
    session: Session,
    workspace_id: int,
    contact_id: int,
    events: Sequence[EventIn],
    *,
    source: str | None,
    now: datetime,
) -> int:
    """Store ``events`` for ``contact_id``; those whose idempotency key was seen are skipped.
    Returns how many were stored."""
    keys = [e.idempotency_key for e in events if e.idempotency_key]
    seen: set[str] = set()
    if keys:
        stmt = select(Event.idempotency_key).where(
            Event.workspace_id == workspace_id, Event.idempotency_key.in_(keys)
        )
        seen = {k for k in session.scalars(stmt) if k}
    stored = 0
    for event in events:
        if event.idempotency_key and event.idempotency_key in seen:
            continue
        if event.idempotency_key:
            seen.add(event.idempotency_key)
        session.add(
            Event(
                workspace_id=workspace_id,
                contact_id=contact_id,
                origin_contact_id=contact_id,
                type=event.type,
                occurred_at=event.occurred_at or now,
                received_at=now,
                channel=event.channel,
                source=source,
                properties=event.properties,
                idempotency_key=event.idempotency_key,
            )
        )
        stored += 1
    session.flush()
    return stored


TIMELINE_SORT = SortSpec(
    fields={"occurred_at": Event.occurred_at}, tiebreak=Event.id, default="-occurred_at"
)


def timeline(
    session: Session,
    workspace_id: int,
    contact_id: int,
    *,
    types: Sequence[str],
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Row[Any]], str | None]:
    """A profile's events, newest first (merged contacts' events included: they moved)."""
    stmt = select(Event).where(Event.workspace_id == workspace_id, Event.contact_id == contact_id)
    if types:
        stmt = stmt.where(Event.type.in_(list(types)))
    return paginate(session, stmt, TIMELINE_SORT, sort="-occurred_at", limit=limit, cursor=cursor)
