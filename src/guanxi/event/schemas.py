"""Pydantic shapes of events in the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from guanxi.event.catalogue import PropKind
from guanxi.kit.schema import Id, Timestamp


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.]*$")
    occurred_at: Timestamp | None = Field(default=None, description="Defaults to now.")
    channel: str | None = Field(default=None, max_length=32)
    properties: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = Field(default=None, max_length=128)


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    contact_id: Id
    origin_contact_id: Id
    type: str
    occurred_at: datetime
    received_at: datetime
    channel: str | None
    source: str | None
    properties: dict[str, Any]


class PropIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    kind: PropKind
    required: bool = False


class EventTypeIn(BaseModel):
    """A workspace's own event type (names of built-in types are taken)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.]*$")
    label: str = Field(min_length=1, max_length=120)
    properties: list[PropIn] = Field(default_factory=list, max_length=50)


class EventTypeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    label: str
    builtin: bool = False
    internal: bool = False
    properties: list[PropIn]
