"""The journey runner: claims the enrolments that are due, advances each through the pure engine
and writes the outcome — the enrolments' new places and due times, the step log, and every
effect (``effects.py``) — in one transaction.

Claiming is the transaction itself: ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL holds the
rows until the commit, so two runners never take the same enrolment, and a killed runner's
transaction is rolled back by the database, leaving its enrolments due as they were: nothing
is lost and no step is done twice (a step and its effects commit together or not at all).
SQLite runs one worker. Only enrolments of active journeys are taken: a paused journey's
waits keep their due times and run when it is resumed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from guanxi.db import bulk_insert, in_list, transaction, update_rows
from guanxi.event import service as events
from guanxi.event.records import Draft
from guanxi.journey import effects, engine, wakes
from guanxi.journey import graph as g
from guanxi.journey.versions import version_graph
from guanxi.kit.clock import utcnow
from guanxi.kit.ids import new_ids
from guanxi.message.gate import zone
from guanxi.models import Event, Journey, JourneyEnrolment, JourneyStep, Workspace
from guanxi.segment import profiles
from guanxi.segment.conditions import EventFact, Profile
from guanxi.segment.service import schema_for

log = logging.getLogger("guanxi.journeys")
BATCH = 500


def claim(session: Session, now: datetime, limit: int) -> list[JourneyEnrolment]:
    stmt = (
        select(JourneyEnrolment)
        .join(
            Journey,
            (Journey.workspace_id == JourneyEnrolment.workspace_id)
            & (Journey.id == JourneyEnrolment.journey_id),
        )
        .where(JourneyEnrolment.due_at <= now, Journey.status == "active")
        .order_by(JourneyEnrolment.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=JourneyEnrolment, skip_locked=True)
    return list(session.scalars(stmt))


def run_due(factory: sessionmaker[Session], now: datetime | None = None, batch: int = BATCH) -> int:
    """Advance one batch of due enrolments, then apply the wakes recorded meanwhile (in a
    transaction of their own: it holds no claim while it waits); returns how many enrolments
    were taken and wakes applied (0: nothing was due)."""
    now = now or utcnow()
    with transaction(factory) as session:
        rows = claim(session, now, batch)
        if rows:
            advance(session, rows, now)
        pending = wakes.pending(session, now)
    woken = 0
    if pending:
        with transaction(factory) as session:
            woken = wakes.apply(session, now)
    return len(rows) + woken


def _events(
    session: Session, workspace_id: int, rows: Sequence[JourneyEnrolment], types: set[str]
) -> dict[int, list[EventFact]]:
    """Each contact's events of ``types`` since it came to the wait it stands on."""
    out: dict[int, list[EventFact]] = defaultdict(list)
    if not types or not rows:
        return out
    since = min(r.node_entered_at for r in rows)  # a wait counts events from its own start
    stmt = select(Event.contact_id, Event.type, Event.occurred_at, Event.properties).where(
        Event.workspace_id == workspace_id,
        in_list(session, Event.contact_id, sorted({r.contact_id for r in rows})),
        Event.type.in_(sorted(types)),
        Event.occurred_at >= since,
    )
    for contact_id, type_, at, props in session.execute(stmt):
        out[contact_id].append(EventFact(type_, at, props or {}))
    return out


def advance(session: Session, rows: Sequence[JourneyEnrolment], now: datetime) -> None:
    groups: dict[tuple[int, int, int], list[JourneyEnrolment]] = defaultdict(list)
    for row in rows:
        groups[(row.workspace_id, row.journey_id, row.version)].append(row)
    by_workspace: dict[int, list[effects.Asked]] = defaultdict(list)
    exits: dict[int, list[Draft]] = defaultdict(list)
    steps: list[dict[str, Any]] = []
    for (workspace_id, journey_id, version), mine in groups.items():
        graph = version_graph(session, workspace_id, journey_id, version)
        schema = schema_for(session, workspace_id)
        workspace = session.get(Workspace, workspace_id)
        fallback = workspace.timezone if workspace else "Asia/Shanghai"
        trees = [tree for _, tree in g.conditions_of(graph)]
        people = profiles.load(
            session, workspace_id, [r.contact_id for r in mine], trees, schema, now
        )
        on_event_waits = {n.id for n in graph.nodes if isinstance(n, g.WaitEvent)}
        waiting = [r for r in mine if r.node_id in on_event_waits]  # the others need none yet
        waited = _events(session, workspace_id, waiting, engine.wake_events(graph))
        for row in mine:
            profile = people.get(row.contact_id)
            if profile is None:  # merged into another contact, or gone
                _finish(row, now, "contact_gone")
                exits[workspace_id].append(_exited(row, now))
                continue
            tz = zone(profile.fields.get("timezone"), fallback)
            try:
                t = _advance_one(graph, row, profile, schema, tz, waited, now)
            except Exception as exc:  # a corrupt row, a condition naming what is gone …
                _fail(row, now, exc)
                continue
            for effect in t.effects:
                by_workspace[workspace_id].append(
                    effects.Asked(row.id, row.contact_id, journey_id, effect)
                )
            steps += _log(row, t, now)
            _place(row, t, now)
            if t.finished:
                exits[workspace_id].append(_exited(row, now))
    _save(session, rows)
    by_id = {row.id: row for row in rows}
    for workspace_id, asked in by_workspace.items():
        _save(session, _carry_out(session, workspace_id, asked, by_id, now))
    for workspace_id, drafts in exits.items():
        events.store(session, workspace_id, drafts, now)
    ids = new_ids(len(steps))
    for step_id, step in zip(ids, steps, strict=True):
        step["id"] = step_id
    bulk_insert(session, JourneyStep, steps)


def _carry_out(
    session: Session,
    workspace_id: int,
    asked: list[effects.Asked],
    rows: dict[int, JourneyEnrolment],
    now: datetime,
) -> list[JourneyEnrolment]:
    """The batch's effects together; if they fail (a value a field refuses, a bug), each
    enrolment's on its own, so that one bad step fails its enrolment, not every journey.
    Returns the enrolments that failed so."""
    failed: list[JourneyEnrolment] = []
    try:
        with session.begin_nested():
            effects.carry_out(session, workspace_id, asked, now)
        return failed
    except Exception:
        log.warning("a batch's effects failed: one enrolment at a time", exc_info=True)
    mine: dict[int, list[effects.Asked]] = defaultdict(list)
    for a in asked:
        mine[a.enrolment_id].append(a)
    for enrolment_id, own in mine.items():
        try:
            with session.begin_nested():
                effects.carry_out(session, workspace_id, own, now)
        except Exception as exc:
            _fail(rows[enrolment_id], now, exc)
            failed.append(rows[enrolment_id])
    return failed


PLACE = (
    "node_id",
    "status",
    "due_at",
    "step",
    "visits",
    "state",
    "node_entered_at",
    "finished_at",
    "exit_reason",
    "error",
)


def _save(session: Session, rows: Sequence[JourneyEnrolment]) -> None:
    """Write the enrolments' places in one statement. The rows leave the session first: its
    flush would write them again, a statement per row."""
    for row in rows:
        if row in session:
            session.expunge(row)
    update_rows(
        session,
        JourneyEnrolment,
        [
            {"workspace_id": r.workspace_id, "id": r.id} | {c: getattr(r, c) for c in PLACE}
            for r in rows
        ],
        ["workspace_id", "id"],
    )


def _fail(row: JourneyEnrolment, now: datetime, exc: Exception) -> None:
    log.warning("enrolment failed", extra={"enrolment_id": row.id, "error": repr(exc)})
    row.status, row.due_at, row.finished_at = "failed", None, now
    row.exit_reason, row.error = "failed", repr(exc)[:500]


def _advance_one(
    graph: g.Graph,
    row: JourneyEnrolment,
    profile: Profile,
    schema: Any,
    tz: Any,
    waited: dict[int, list[EventFact]],
    now: datetime,
) -> engine.Transition:
    enrolment = engine.Enrolment(
        row.id,
        row.contact_id,
        row.node_id,
        row.entered_at,
        row.node_entered_at,
        dict(row.visits or {}) or {row.node_id: 1},
        dict(row.state or {}),
    )
    facts = engine.Facts(profile, schema, tz, waited.get(row.contact_id, ()))
    return engine.run(graph, enrolment, facts, now)


def _log(row: JourneyEnrolment, t: engine.Transition, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "workspace_id": row.workspace_id,
            "journey_id": row.journey_id,
            "version": row.version,
            "enrolment_id": row.id,
            "contact_id": row.contact_id,
            "seq": row.step + i + 1,
            "node_id": s.node_id,
            "outcome": s.outcome,
            "port": s.port,
            "reason": s.reason,
            "at": now,
        }
        for i, s in enumerate(t.steps)
    ]


def _place(row: JourneyEnrolment, t: engine.Transition, now: datetime) -> None:
    row.step += len(t.steps)
    row.node_id, row.node_entered_at = t.node_id, t.node_entered_at
    row.visits, row.state = dict(t.visits), dict(t.state)
    if t.finished:
        _finish(row, now, t.exit_reason or "completed")
    else:
        row.due_at = t.wait_until or now


def _exited(row: JourneyEnrolment, now: datetime) -> Draft:
    props = {"journey_id": str(row.journey_id), "reason": row.exit_reason or "completed"}
    return Draft(
        row.contact_id, "journey_exited", now, {**props, "node_id": row.node_id}, source="journey"
    )


def _finish(row: JourneyEnrolment, now: datetime, reason: str) -> None:
    row.status, row.due_at, row.finished_at, row.exit_reason = "done", None, now, reason
