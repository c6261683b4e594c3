"""Putting contacts into a journey, set-wise: the re-entry policy decides who may enter, and each
newcomer becomes an enrolment row at the entry node, due now. The runner takes it from there.

A contact's n-th enrolment in a journey is its ``rotation``; (journey, contact, rotation) is
unique, so two batches that trigger the same contact at once make one enrolment, not two.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from guanxi.db import in_list, upsert_rows
from guanxi.event.records import Draft
from guanxi.journey import graph as g
from guanxi.kit.ids import new_id
from guanxi.models import Contact, Journey, JourneyEnrolment

CHUNK = 500


def admissible(
    session: Session,
    workspace_id: int,
    journey_id: int,
    reentry: g.Reentry,
    contact_ids: Iterable[int],
    now: datetime,
) -> dict[int, int]:
    """The contacts that may enter now, each with the rotation its enrolment will have."""
    ids = sorted(set(contact_ids))
    if not ids:
        return {}
    last = session.execute(
        select(
            JourneyEnrolment.contact_id,
            func.max(JourneyEnrolment.rotation),
            func.max(JourneyEnrolment.entered_at),
            func.sum(case((JourneyEnrolment.status == "active", 1), else_=0)),
        )
        .where(
            JourneyEnrolment.workspace_id == workspace_id,
            JourneyEnrolment.journey_id == journey_id,
            in_list(session, JourneyEnrolment.contact_id, ids),
        )
        .group_by(JourneyEnrolment.contact_id)
    ).all()
    seen = {row[0]: (int(row[1]), row[2], int(row[3] or 0)) for row in last}
    active = set(
        session.scalars(
            select(Contact.id).where(
                Contact.workspace_id == workspace_id,
                in_list(session, Contact.id, ids),
                Contact.status == "active",
            )
        )
    )
    allowed: dict[int, int] = {}
    for contact_id in ids:
        if contact_id not in active:
            continue
        if contact_id not in seen:
            allowed[contact_id] = 1
            continue
        rotation, entered_at, running = seen[contact_id]
        if reentry.policy == "never":
            continue
        if reentry.policy == "after_exit" and running:
            continue
        gap = reentry.min_interval_s
        if reentry.policy == "always" and gap and entered_at > now - timedelta(seconds=gap):
            continue
        allowed[contact_id] = rotation + 1
    return allowed


def enrol(
    session: Session,
    journey: Journey,
    graph: g.Graph,
    contact_ids: Iterable[int],
    now: datetime,
    *,
    source: str,
) -> list[int]:
    """Enrol whoever may enter among ``contact_ids`` in the journey's published version;
    returns the contacts enrolled (a race lost to another batch enrols nobody twice)."""
    entry = g.entry_of(graph)
    if journey.version is None or entry is None:
        return []
    allowed = admissible(
        session, journey.workspace_id, journey.id, graph.settings.reentry, contact_ids, now
    )
    done: list[int] = []
    pairs = sorted(allowed.items())
    for start in range(0, len(pairs), CHUNK):
        rows = [
            {
                "workspace_id": journey.workspace_id,
                "id": new_id(),
                "journey_id": journey.id,
                "version": journey.version,
                "contact_id": contact_id,
                "rotation": rotation,
                "node_id": entry.id,
                "status": "active",
                "due_at": now,
                "step": 0,
                "visits": {},
                "state": {},
                "source": source,
                "entered_at": now,
                "node_entered_at": now,
            }
            for contact_id, rotation in pairs[start : start + CHUNK]
        ]
        done += upsert_rows(
            session,
            JourneyEnrolment,
            rows,
            ["workspace_id", "journey_id", "contact_id", "rotation"],
            returning="contact_id",
        )
    return done


def entered(journey: Journey, contact_ids: Iterable[int], now: datetime) -> list[Draft]:
    """The ``journey_entered`` events of the contacts just enrolled, for the caller to store."""
    props = {"journey_id": str(journey.id), "version": journey.version}
    return [Draft(c, "journey_entered", now, dict(props), source="journey") for c in contact_ids]
