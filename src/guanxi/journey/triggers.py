"""The journey reactor, last in the pipeline: a batch's events enrol contacts in the active
journeys they trigger (segment entered or left, an event with filters, a tag added, a stage
reached, a form submitted), and wake the enrolments they may move on — those waiting for one of
the batch's event types, and those whose journey has a goal the batch can make true. A wake
only sets ``due_at`` to now: the runner decides (an early wake is harmless, the engine waits
on); an enrolment already due gets a wake row instead (``wakes.py``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from guanxi.db import in_list
from guanxi.event.records import Stored
from guanxi.journey import engine, enrolments, wakes
from guanxi.journey import graph as g
from guanxi.journey.versions import version_graph
from guanxi.models import Journey, JourneyEnrolment
from guanxi.segment.conditions import prop_matches
from guanxi.segment.profiles import signals

EVENT_TRIGGERS = (
    g.SegmentEntered,
    g.SegmentExited,
    g.EventOccurred,
    g.TagAdded,
    g.StageChanged,
    g.FormSubmitted,
)


def fires(trigger: Any, event: Stored) -> bool:
    """Whether ``event`` sets off ``trigger``."""
    props = event.properties or {}
    if isinstance(trigger, g.SegmentEntered):
        return event.type == "segment_entered" and props.get("segment_id") == str(
            trigger.segment_id
        )
    if isinstance(trigger, g.SegmentExited):
        return event.type == "segment_exited" and props.get("segment_id") == str(trigger.segment_id)
    if isinstance(trigger, g.EventOccurred):
        return event.type == trigger.event_type and all(
            prop_matches(f, props) for f in trigger.filters
        )
    if isinstance(trigger, g.TagAdded):
        return event.type == "tag_added" and props.get("tag_id") == str(trigger.tag_id)
    if isinstance(trigger, g.StageChanged):
        return event.type == "stage_changed" and props.get("to") == trigger.stage
    if isinstance(trigger, g.FormSubmitted):
        return event.type == "form_submit" and (
            trigger.form_id is None or props.get("form_id") == str(trigger.form_id)
        )
    return False


def _active(session: Session, workspace_id: int) -> Sequence[Journey]:
    return session.scalars(
        select(Journey).where(
            Journey.workspace_id == workspace_id,
            Journey.status == "active",
            Journey.version.is_not(None),
        )
    ).all()


def _running_versions(
    session: Session, workspace_id: int, journey_ids: list[int], contact_ids: list[int]
) -> dict[int, set[int]]:
    rows = session.execute(
        select(JourneyEnrolment.journey_id, JourneyEnrolment.version)
        .where(
            JourneyEnrolment.workspace_id == workspace_id,
            JourneyEnrolment.journey_id.in_(journey_ids),
            JourneyEnrolment.status == "active",
            in_list(session, JourneyEnrolment.contact_id, contact_ids),
        )
        .distinct()
    ).all()
    out: dict[int, set[int]] = defaultdict(set)
    for journey_id, version in rows:
        out[journey_id].add(version)
    return out


def react(
    session: Session, workspace_id: int, events: Sequence[Stored], now: datetime
) -> list[Any]:
    journeys = _active(session, workspace_id)
    if not journeys or not events:
        return []
    derived: list[Any] = []
    for journey in journeys:
        assert journey.version is not None
        graph = version_graph(session, workspace_id, journey.id, journey.version)
        entry = g.entry_of(graph)
        if entry is None or not isinstance(entry.trigger, EVENT_TRIGGERS):
            continue
        who = sorted({e.contact_id for e in events if fires(entry.trigger, e)})
        if who:
            done = enrolments.enrol(session, journey, graph, who, now, source="trigger")
            derived += enrolments.entered(journey, done, now)
    _wake(session, workspace_id, journeys, events, now)
    return derived


def _wake(
    session: Session,
    workspace_id: int,
    journeys: Sequence[Journey],
    events: Sequence[Stored],
    now: datetime,
) -> None:
    types, moved = signals(events)
    contacts = sorted({e.contact_id for e in events})
    running = _running_versions(session, workspace_id, [j.id for j in journeys], contacts)
    for journey in journeys:
        woken: set[str] = set()  # event types whose arrival matters to some running version
        goal = False
        for version in running.get(journey.id, ()):
            graph = version_graph(session, workspace_id, journey.id, version)
            woken |= engine.wake_events(graph) & types
            goal = goal or engine.goals_touched_by(graph, types, moved)
        if not woken and not goal:
            continue
        who = contacts if goal else sorted({e.contact_id for e in events if e.type in woken})
        wakes.record(session, workspace_id, journey.id, who, now)  # those already due
        session.execute(
            update(JourneyEnrolment)
            .where(
                JourneyEnrolment.workspace_id == workspace_id,
                JourneyEnrolment.journey_id == journey.id,
                JourneyEnrolment.status == "active",
                JourneyEnrolment.due_at > now,
                in_list(session, JourneyEnrolment.contact_id, who),
            )
            .values(due_at=now)
            .execution_options(synchronize_session=False)
        )
