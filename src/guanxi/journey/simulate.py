"""The dry run (J5), pure: one contact through a journey on a simulated clock.

The clock starts at ``start`` with the contact on the entry and jumps from moment to moment:
to the end of the wait the contact stands on, or to the next future event that would wake it
(an event a wait waits for, or one that may make a goal hold), whichever comes first — as the
runner and the reactor would. Events join the contact's facts as the clock passes them, and a
few change its profile as they do in life (``stage_changed`` sets the stage, ``tag_added`` and
``tag_removed`` the tags), so "what if they become SQL on day 5" can be asked. Nothing is sent:
the effects are listed with the moment they would happen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from guanxi.journey import engine
from guanxi.journey.engine import Effect, Outcome
from guanxi.journey.graph import Graph
from guanxi.segment.conditions import EventFact, Profile, Schema

MAX_STEPS = 1000  # nodes executed in one dry run, whatever the graph


@dataclass(frozen=True)
class SimStep:
    at: datetime  # on the simulated clock
    node_id: str
    outcome: Outcome
    port: str | None
    reason: str | None
    effects: tuple[Effect, ...]


def simulate(
    graph: Graph,
    start_profile: Profile,
    schema: Schema,
    timezone: ZoneInfo,
    start: datetime,
    future_events: Sequence[EventFact],
    until: datetime,
    enrolment_id: int = 1,
) -> list[SimStep]:
    """Every step the contact would take from ``start`` until it finishes, the clock would
    pass ``until`` or ``MAX_STEPS`` nodes ran (a loop that never ends)."""
    enrolment = engine.start(graph, enrolment_id, 0, start)
    pending = sorted(future_events, key=lambda e: e.occurred_at)
    waking = engine.wake_events(graph)
    clock, profile, seen = start, start_profile, list[EventFact]()
    out: list[SimStep] = []
    while len(out) < MAX_STEPS:
        while pending and pending[0].occurred_at <= clock:
            event = pending.pop(0)
            seen.append(event)
            profile = _absorb(profile, event)
        facts = engine.Facts(profile, schema, timezone, tuple(seen))
        done = list(engine.advances(graph, enrolment, facts, clock, MAX_STEPS - len(out)))
        for t in done:
            out.extend(
                SimStep(clock, s.node_id, s.outcome, s.port, s.reason, tuple(t.effects))
                for s in t.steps
            )
            enrolment, profile = engine.after(enrolment, t), engine.apply(profile, t.effects)
        if done[-1].finished or done[-1].wait_until is None:
            break
        woken_by = (
            e.occurred_at
            for e in pending
            if e.type in waking or engine.goals_touched_by(graph, {e.type}, set())
        )
        clock = min(done[-1].wait_until, next(woken_by, done[-1].wait_until))
        if clock > until:
            break
    return out


def _absorb(profile: Profile, event: EventFact) -> Profile:
    """The profile once ``event`` happened."""
    fields, tags = dict(profile.fields), set(profile.tags)
    value = event.properties.get("to" if event.type == "stage_changed" else "tag")
    if event.type == "stage_changed" and isinstance(value, str):
        fields["stage"] = value
    elif event.type == "tag_added" and value is not None:
        tags.add(str(value))
    elif event.type == "tag_removed" and value is not None:
        tags.discard(str(value))
    return replace(profile, fields=fields, tags=frozenset(tags), events=(*profile.events, event))
