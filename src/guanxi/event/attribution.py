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
        ids = list(firsts)
        session.execute(
            _MERGE_PG,
            {
                "ws": workspace_id,
                "ids": ids,
                "firsts": [_json(firsts[i]) for i in ids],
                "lasts": [_json(lasts[i]) for i in ids],
            },
        )
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
# PostgreSQL: the same comparison as touch.first/last (the first touch keeps the existing one on
# a tie, the last takes the new one), in one statement that writes only the contacts it changes
_MERGE_PG = text(
    "UPDATE contact AS c SET "
    "first_touch = CASE WHEN c.first_touch IS NULL "
    "OR v.f_at < CAST(c.first_touch->>'at' AS timestamptz) THEN v.f ELSE c.first_touch END, "
    "last_touch = CASE WHEN c.last_touch IS NULL "
    "OR v.l_at >= CAST(c.last_touch->>'at' AS timestamptz) THEN v.l ELSE c.last_touch END "
    "FROM (SELECT id, CAST(f AS jsonb) AS f, CAST(l AS jsonb) AS l, "
    "CAST(CAST(f AS jsonb)->>'at' AS timestamptz) AS f_at, "
    "CAST(CAST(l AS jsonb)->>'at' AS timestamptz) AS l_at FROM unnest("
    "CAST(:ids AS bigint[]), CAST(:firsts AS text[]), CAST(:lasts AS text[])) AS u(id, f, l)) AS v "
    "WHERE c.workspace_id = :ws AND c.id = v.id AND (c.first_touch IS NULL OR c.last_touch IS NULL "
    "OR v.f_at < CAST(c.first_touch->>'at' AS timestamptz) "
    "OR v.l_at >= CAST(c.last_touch->>'at' AS timestamptz))"
)
_TABLE = cast(Table, Contact.__table__)
# SQLite: Core executemany, one compiled statement (the ORM's bulk update costs more)
_WRITE = (
    update(_TABLE)
    .where(_TABLE.c.workspace_id == bindparam("ws"), _TABLE.c.id == bindparam("cid"))
    .values(first_touch=bindparam("first"), last_touch=bindparam("last"))
)
