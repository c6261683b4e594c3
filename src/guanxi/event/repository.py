"""All SQL for events and idempotency keys."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from guanxi.db import bulk_insert, in_list
from guanxi.models import Contact, Event, EventKey


def claim_keys(session: Session, rows: Sequence[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert idempotency keys; returns those that were new (the rest were seen before, or a
    concurrent transaction holding them committed first: the insert waits for it)."""
    if not rows:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        stmt = text(
            "INSERT INTO event_key (workspace_id, key, event_id, contact_id) "
            "SELECT workspace_id, key, event_id, contact_id FROM jsonb_to_recordset("
            "CAST(:rows AS jsonb)) AS r(workspace_id bigint, key uuid, event_id bigint, "
            "contact_id bigint) ON CONFLICT DO NOTHING RETURNING key"
        )
        params = {"rows": _json([{**r, "key": str(r["key"])} for r in rows])}
        return set(session.scalars(stmt, params))
    # SQLite: one writer at a time; INSERT OR IGNORE, then the keys now naming our events are
    # the ones we claimed (executemany: one compiled statement, not a 1,000-row VALUES list)
    session.execute(
        text(
            "INSERT OR IGNORE INTO event_key (workspace_id, key, event_id, contact_id) "
            "VALUES (:workspace_id, :key, :event_id, :contact_id)"
        ),
        [{**r, "key": r["key"].hex} for r in rows],
    )
    ours = {r["event_id"]: r["key"] for r in rows}
    mine = select(EventKey.event_id).where(
        EventKey.workspace_id == rows[0]["workspace_id"], EventKey.event_id.in_(list(ours))
    )
    return {ours[event_id] for event_id in session.scalars(mine)}


_json = json.JSONEncoder(separators=(",", ":")).encode


def keyed(
    session: Session, workspace_id: int, keys: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """(event id, contact id) stored under each of ``keys``."""
    wanted = list(keys)
    if not wanted:
        return {}
    stmt = select(EventKey.key, EventKey.event_id, EventKey.contact_id).where(
        EventKey.workspace_id == workspace_id, EventKey.key.in_(wanted)
    )
    return {k: (e, c) for k, e, c in session.execute(stmt)}


def insert_events(session: Session, rows: list[dict[str, Any]]) -> None:
    bulk_insert(session, Event, rows)


def current_contacts(session: Session, workspace_id: int, ids: Iterable[int]) -> dict[int, int]:
    """For each of ``ids`` that names a contact, the active contact it is now: a merged
    contact's events go to its survivor (following merges of merges)."""
    found: dict[int, int] = {}
    pending = {i: i for i in ids}  # the id asked for -> the id to look up next
    for _ in range(16):
        if not pending:
            break
        stmt = select(Contact.id, Contact.status, Contact.merged_into_id).where(
            Contact.workspace_id == workspace_id,
            in_list(session, Contact.id, set(pending.values())),
        )
        rows = {cid: (status, into) for cid, status, into in session.execute(stmt)}
        following: dict[int, int] = {}
        for asked, look in pending.items():
            if look in rows:
                status, into = rows[look]
                if status == "active":
                    found[asked] = look
                elif into is not None:
                    following[asked] = into
        pending = following
    return found
