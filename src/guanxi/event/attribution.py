"""The attribution reactor (E6): every contact keeps its first and its last touch.

Backfilled events count by when they happened, not when they arrived: an older touch becomes the
first touch, a newer one the last. One query loads the batch's contacts, one statement writes
the changed ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
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


_TABLE = cast(Table, Contact.__table__)
# Core executemany: one compiled statement for the batch (the ORM's bulk update costs more)
_WRITE = (
    update(_TABLE)
    .where(_TABLE.c.workspace_id == bindparam("ws"), _TABLE.c.id == bindparam("cid"))
    .values(first_touch=bindparam("first"), last_touch=bindparam("last"))
)
