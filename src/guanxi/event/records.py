"""The shapes events take inside guanxi between producers, the store and the reactors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class Sent(Protocol):
    """An event as a caller sends it (the batch API's and the identify API's shapes)."""

    type: str
    occurred_at: datetime | None
    properties: dict[str, Any]
    channel: str | None
    idempotency_key: str | None


@dataclass
class Draft:
    """An event to store for a known contact. ``key`` is its idempotency key, if it has one."""

    contact_id: int
    type: str
    occurred_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)
    channel: str | None = None
    source: str | None = None
    key: str | None = None

    @classmethod
    def of(cls, event: Sent, contact_id: int, source: str | None, now: datetime) -> Draft:
        return cls(
            contact_id=contact_id,
            type=event.type,
            occurred_at=event.occurred_at or now,
            properties=event.properties,
            channel=event.channel,
            source=source,
            key=event.idempotency_key,
        )


@dataclass(frozen=True)
class Stored:
    """An event as written: what reactors see."""

    id: int
    contact_id: int
    type: str
    occurred_at: datetime
    properties: dict[str, Any]
    channel: str | None
    source: str | None


@dataclass(frozen=True)
class Outcome:
    """What became of one draft: stored now, or a duplicate of an event stored before."""

    event_id: int
    contact_id: int
    duplicate: bool
