"""Writing to the outbox: every outbound message is a row, unique by its idempotency key.

Journeys, broadcasts and the send API write here in their own transaction, so a message exists
if and only if the step that made it committed; a step done again (a retried job chunk, a
re-run journey step) writes the same key, which the unique constraint turns into nothing.
The dispatcher (``message/dispatcher.py``) sends the rows later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guanxi.db import upsert_rows
from guanxi.kit.ids import new_id
from guanxi.models import Message


@dataclass(frozen=True)
class Draft:
    key: str
    channel: str
    contact_id: int | None
    template_id: int | None
    due_at: datetime
    to_address: str | None = None  # None: the contact's address on the channel at send time
    marketing: bool = True
    channel_account_id: int | None = None
    journey_id: int | None = None
    enrolment_id: int | None = None
    node_id: str | None = None
    broadcast_id: int | None = None
    sender_id: int | None = None
    variables: dict[str, Any] = field(default_factory=dict)


def journey_key(enrolment_id: int, node_id: str, visit: int) -> str:
    """A journey step's message: one per (enrolment, node, n-th arrival at the node)."""
    return f"j:{enrolment_id}:{node_id}:{visit}"


def broadcast_key(broadcast_id: int, contact_id: int) -> str:
    return f"b:{broadcast_id}:{contact_id}"


def api_key(client_key: str) -> str:
    return f"a:{client_key}"


def event_properties(message: Any) -> dict[str, Any]:
    """What the events about a message (sent, opened, clicked …) carry, as strings."""
    props = {"message_id": str(message.id)}
    for name, column in (
        ("journey_id", "journey_id"),
        ("journey_node", "node_id"),
        ("template_id", "template_id"),
        ("broadcast_id", "broadcast_id"),
    ):
        value = getattr(message, column)
        if value is not None:
            props[name] = str(value)
    return props


def enqueue(session: Session, workspace_id: int, drafts: Sequence[Draft], now: datetime) -> int:
    """Write the drafts whose key is new; returns how many were written (one statement)."""
    if not drafts:
        return 0
    rows = [
        {
            "workspace_id": workspace_id,
            "id": new_id(),
            "key": d.key,
            "channel": d.channel,
            "channel_account_id": d.channel_account_id,
            "contact_id": d.contact_id,
            "to_address": d.to_address,
            "template_id": d.template_id,
            "marketing": d.marketing,
            "status": "queued",
            "due_at": d.due_at,
            "attempts": 0,
            "journey_id": d.journey_id,
            "enrolment_id": d.enrolment_id,
            "node_id": d.node_id,
            "broadcast_id": d.broadcast_id,
            "sender_id": d.sender_id,
            "variables": d.variables,
            "created_at": now,
        }
        for d in drafts
    ]
    return insert_new(session, Message, rows, ["workspace_id", "key"])


def insert_new(session: Session, model: Any, rows: list[dict[str, Any]], unique: list[str]) -> int:
    """Insert the rows whose ``unique`` columns are new; returns how many were (one
    statement)."""
    return len(upsert_rows(session, model, rows, unique, returning="id"))


def by_key(session: Session, workspace_id: int, key: str) -> Message | None:
    return session.scalar(
        select(Message).where(Message.workspace_id == workspace_id, Message.key == key)
    )
