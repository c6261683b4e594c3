"""Wakes for enrolments that were already due when their event arrived.

The journey reactor wakes a waiting enrolment by setting its due time to now, but only those
still waiting (``due_at > now``): an enrolment already due may be held by a runner right now —
one that read the contact's events before this event was committed and is about to put the
enrolment back to wait. The reactor's update cannot see that (it would have to wait for the
runner's locks, inside an ingest, and deadlock), so it records a wake row instead; each runner
round applies the wakes — the enrolments fall due again and the runner reads the event.
An enrolment another runner still holds keeps its wake for the next round: nothing is missed
and nobody waits on anybody.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, literal, select, tuple_, update
from sqlalchemy.orm import Session

from guanxi.db import in_list, upsert_statement
from guanxi.models import JourneyEnrolment, JourneyWake
from guanxi.models.base import UTCDateTime

BATCH = 1000


def record(
    session: Session, workspace_id: int, journey_id: int, contacts: Sequence[int], now: datetime
) -> None:
    """A wake for each of these contacts whose enrolment in the journey is active and due."""
    e = JourneyEnrolment
    due = (
        select(e.workspace_id, e.journey_id, e.contact_id, literal(now, UTCDateTime()))
        .where(
            e.workspace_id == workspace_id,
            e.journey_id == journey_id,
            e.status == "active",
            e.due_at <= now,
            in_list(session, e.contact_id, contacts),
        )
        .distinct()
    )
    table: Any = JourneyWake.__table__
    columns = ["workspace_id", "journey_id", "contact_id", "at"]
    session.execute(
        upsert_statement(session, table).from_select(columns, due).on_conflict_do_nothing()
    )


def pending(session: Session, now: datetime) -> bool:
    """Is there a wake to apply? (One index probe: the runner asks every round.)"""
    return session.scalar(select(JourneyWake.at).where(JourneyWake.at <= now).limit(1)) is not None


def apply(session: Session, now: datetime) -> int:
    """Make the enrolments of recorded wakes due now; returns how many wakes were done."""
    wakes = session.execute(
        select(JourneyWake.workspace_id, JourneyWake.journey_id, JourneyWake.contact_id)
        .where(JourneyWake.at <= now)
        .order_by(JourneyWake.at)
        .limit(BATCH)
    ).all()
    if not wakes:
        return 0
    keys = [tuple(w) for w in wakes]
    e = JourneyEnrolment
    mine = (
        select(e.workspace_id, e.id, e.journey_id, e.contact_id)
        .where(tuple_(e.workspace_id, e.journey_id, e.contact_id).in_(keys), e.status == "active")
        .order_by(e.workspace_id, e.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        mine = mine.with_for_update(of=JourneyEnrolment, skip_locked=True)
    taken = session.execute(mine).all()
    held = {(r.workspace_id, r.journey_id, r.contact_id) for r in taken}
    for workspace_id in sorted({r.workspace_id for r in taken}):
        session.execute(
            update(e)
            .where(
                e.workspace_id == workspace_id,
                in_list(session, e.id, [r.id for r in taken if r.workspace_id == workspace_id]),
                e.due_at > now,
            )
            .values(due_at=now)
            .execution_options(synchronize_session=False)
        )
    # a wake whose enrolment another runner holds stays for the next round; one without an
    # active enrolment (finished since) has nothing to wake
    held_elsewhere = _active(session, keys) - held
    done = [k for k in keys if k not in held_elsewhere]
    if done:
        session.execute(
            delete(JourneyWake).where(
                tuple_(
                    JourneyWake.workspace_id, JourneyWake.journey_id, JourneyWake.contact_id
                ).in_(done),
                JourneyWake.at <= now,
            )
        )
    return len(done)


def _active(session: Session, keys: list[tuple[int, ...]]) -> set[tuple[int, int, int]]:
    e = JourneyEnrolment
    rows = session.execute(
        select(e.workspace_id, e.journey_id, e.contact_id).where(
            tuple_(e.workspace_id, e.journey_id, e.contact_id).in_(keys), e.status == "active"
        )
    ).all()
    return {(r.workspace_id, r.journey_id, r.contact_id) for r in rows}
