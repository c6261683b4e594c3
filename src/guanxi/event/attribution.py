"""The attribution reactor (E6): every contact keeps its first and its last touch.

Backfilled events count by when they happened, not when they arrived: an older touch becomes the
first touch, a newer one the last. On PostgreSQL one statement compares and writes (only
the contacts whose touches change); on SQLite one query loads them and one executemany writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, text, update
from sqlalchemy.orm import Session

from guanxi.db import in_list
from guanxi.event import touch
from guanxi.event.records import Draft, Stored
from guanxi.models import Contact


def react(
    session: Session, workspace_id: int, events: Sequence[Stored], now: datetime
) -> list[Draft]:
    firsts: dict[int, dict[str, Any] | None] = {}
    lasts: dict[int, dict[str, Any] | None] = {}
    for event in events:
        t = touch.touch_of(event.type, event.channel, event.properties, event.occurred_at)
        if t is not None:
            firsts[event.contact_id] = touch.first(firsts.get(event.contact_id), t)
            lasts[event.contact_id] = touch.last(lasts.get(event.contact_id), t)
    if not firsts:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = [{"id": i, "f": firsts[i], "l": lasts[i]} for i in sorted(firsts)]  # lock order
        session.execute(_MERGE_PG, {"ws": workspace_id, "rows": _json(rows)})
        return []
    stmt = select(Contact.id, Contact.first_touch, Contact.last_touch).where(
        Contact.workspace_id == workspace_id, in_list(session, Contact.id, list(firsts))
    )
    changes = []
    for contact_id, old_first, old_last in session.execute(stmt):
        new_first = touch.first(old_first, firsts[contact_id])
        new_last = touch.last(old_last, lasts[contact_id])
        if (new_first, new_last) != (old_first, old_last):
            changes.append(
                {"ws": workspace_id, "cid": contact_id, "first": new_first, "last": new_last}
            )
    if changes:
        session.execute(_WRITE, changes)
    return []


_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# PostgreSQL: the batch travels as one JSON document (cheaper to send than arrays of text);
# the same comparison as touch.first/last (the first touch keeps the existing one on
# a tie, the last takes the new one), in one statement that writes only the contacts it changes
_MERGE_PG = text(
    "UPDATE contact AS c SET "
    "first_touch = CASE WHEN c.first_touch IS NULL "
    "OR CAST(u.f->>'at' AS timestamptz) < CAST(c.first_touch->>'at' AS timestamptz) "
    "THEN u.f ELSE c.first_touch END, "
    "last_touch = CASE WHEN c.last_touch IS NULL "
    "OR CAST(u.l->>'at' AS timestamptz) >= CAST(c.last_touch->>'at' AS timestamptz) "
    "THEN u.l ELSE c.last_touch END "
    "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS u(id bigint, f jsonb, l jsonb) "
    "WHERE c.workspace_id = :ws AND c.id = u.id AND (c.first_touch IS NULL "
    "OR c.last_touch IS NULL "
    "OR CAST(u.f->>'at' AS timestamptz) < CAST(c.first_touch->>'at' AS timestamptz) "
    "OR CAST(u.l->>'at' AS timestamptz) >= CAST(c.last_touch->>'at' AS timestamptz))"
)
_TABLE = cast(Table, Contact.__table__)
# SQLite: Core executemany, one compiled statement (the ORM's bulk update costs more)
_WRITE = (
    update(_TABLE)
    .where(_TABLE.c.workspace_id == bindparam("ws"), _TABLE.c.id == bindparam("cid"))
    .values(first_touch=bindparam("first"), last_touch=bindparam("last"))
)
