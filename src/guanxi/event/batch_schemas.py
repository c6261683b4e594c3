"""Pydantic shapes of the batch ingestion API (E1)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from guanxi.contact.schemas import IdentityIn
from guanxi.kit.schema import Id, Timestamp

MAX_BATCH = 1000


class BatchEventIn(BaseModel):
    """One event and the person it belongs to: by any identity, an anonymous id (a browser's),
    or a contact id."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.]*$")
    occurred_at: Timestamp | None = Field(
        default=None, description="When it happened (past allowed: backfill). Defaults to now."
    )
    channel: str | None = Field(default=None, max_length=32)
    properties: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Unique per workspace: a retried event with the same key is not stored twice.",
    )
    identities: list[IdentityIn] = Field(default_factory=list, max_length=20)
    anonymous_id: str | None = Field(default=None, min_length=1, max_length=255)
    contact_id: Id | None = None


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[Any] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="Up to 1,000 events; each is checked on its own (see the per-event results).",
    )
    source: str | None = Field(default=None, max_length=120, pattern=r"^[^\x00]*$")


class EventError(BaseModel):
    code: str
    message: str


class EventResult(BaseModel):
    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    event_id: Id | None = None
    contact_id: Id | None = None
    error: EventError | None = None


class BatchOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResult]
