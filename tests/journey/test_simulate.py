"""The dry run: scenario 5 for one contact on a simulated clock — the exact timeline when the
welcome email is opened and when it is not, a goal reached mid-wait by a stage change, a wait
for an event woken by it, the ``until`` horizon, and the step limit of an endless loop."""

from __future__ import annotations

from datetime import timedelta

from guanxi.journey import checks
from guanxi.journey import engine as e
from guanxi.journey.simulate import MAX_STEPS, SimStep, simulate
from guanxi.segment import conditions as c
from tests.journey.test_engine import LEAD, SCENARIO, SHANGHAI, T0, WAIT_FOR_CLICK
from tests.journey.test_graph import ENTRY, build

WEEK = T0 + timedelta(days=7)


def timeline(steps: list[SimStep]) -> list[tuple[str, str, str, str | None]]:
    """Each step with its moment on the contact's wall clock, as the console shows it."""
    return [
        (s.at.astimezone(SHANGHAI).strftime("%a %m-%d %H:%M"), s.node_id, s.outcome, s.port)
        for s in steps
    ]


def test_scenario_5_when_the_email_is_opened() -> None:
    opened = c.EventFact("email_opened", T0 + timedelta(hours=2), {"journey_node": "welcome"})
    viewed = c.EventFact("page_view", T0 + timedelta(days=1), {"url": "/pricing"})
    steps = simulate(SCENARIO, LEAD, c.Schema(), SHANGHAI, T0, [viewed, opened], WEEK)
    assert timeline(steps) == [
        ("Thu 03-05 09:00", "start", "done", "out"),
        ("Thu 03-05 09:00", "welcome", "done", "out"),
        ("Thu 03-05 09:00", "three_days", "waiting", None),
        # neither event wakes anyone: no wait waits for them and no goal depends on them
        ("Sun 03-08 09:00", "three_days", "done", "out"),
        ("Sun 03-08 09:00", "opened", "done", "yes"),
        ("Sun 03-08 09:00", "wecom", "done", "out"),
        ("Sun 03-08 09:00", "tuesday", "waiting", None),
        ("Tue 03-10 10:00", "tuesday", "done", "out"),
        ("Tue 03-10 10:00", "case_study", "done", None),
    ]
    assert [(s.node_id, s.effects) for s in steps if s.effects] == [
        ("welcome", (e.Send("welcome", "email", 1, True, None, 1),)),
        ("wecom", (e.Send("wecom", "wecom", 2, True, "owner", 1),)),
        ("case_study", (e.Send("case_study", "email", 4, True, None, 1),)),
    ]


def test_scenario_5_when_it_is_not_opened() -> None:
    steps = simulate(SCENARIO, LEAD, c.Schema(), SHANGHAI, T0, [], WEEK, enrolment_id=9)
    assert [(s.node_id, s.port) for s in steps if s.effects] == [
        ("welcome", "out"),
        ("sms", "out"),
        ("case_study", None),
    ]
    assert steps[-1].at == T0 + timedelta(days=5, hours=1)  # Tuesday 10:00 in Shanghai


def test_becoming_sql_mid_wait_reaches_the_goal() -> None:
    sql = c.EventFact("stage_changed", T0 + timedelta(days=1, hours=3), {"from": "lead", "to": "sql"})  # fmt: skip
    steps = simulate(SCENARIO, LEAD, c.Schema(), SHANGHAI, T0, [sql], WEEK)
    assert timeline(steps)[2:] == [
        ("Thu 03-05 09:00", "three_days", "waiting", None),
        ("Fri 03-06 12:00", "sql", "goal", None),
    ]


def test_tags_from_events_count_for_goals() -> None:
    graph = build(
        [ENTRY, {"id": "w", "kind": "wait", "mode": "duration", "seconds": 7 * 86400},
         {"id": "won", "kind": "goal", "condition": {"kind": "tag", "tags": ["4"]}}],
        [("start", "w", "out")],
    )  # fmt: skip
    added = c.EventFact("tag_added", T0 + timedelta(hours=1), {"tag": "4"})
    removed = c.EventFact("tag_removed", T0 + timedelta(minutes=30), {"tag": "4"})
    held = c.Profile(fields={}, tags=frozenset({"4"}))
    assert simulate(graph, held, c.Schema(), SHANGHAI, T0, [], WEEK)[0].node_id == "won"
    steps = simulate(graph, LEAD, c.Schema(), SHANGHAI, T0, [removed, added], WEEK)
    assert [(s.at - T0, s.node_id, s.outcome) for s in steps] == [
        (timedelta(0), "start", "done"),
        (timedelta(0), "w", "waiting"),
        (timedelta(minutes=30), "w", "waiting"),  # woken: nothing changed
        (timedelta(hours=1), "won", "goal"),
    ]


def test_a_wait_for_an_event_is_woken_by_it() -> None:
    click = c.EventFact("email_clicked", T0 + timedelta(hours=5), {"url": "/pricing"})
    steps = simulate(WAIT_FOR_CLICK, LEAD, c.Schema(), SHANGHAI, T0, [click], WEEK)
    assert [(s.at - T0, s.node_id, s.port) for s in steps] == [
        (timedelta(0), "start", "out"),
        (timedelta(0), "click", None),
        (timedelta(hours=5), "click", "event"),
        (timedelta(hours=5), "hot", None),
    ]
    steps = simulate(WAIT_FOR_CLICK, LEAD, c.Schema(), SHANGHAI, T0, [], WEEK)
    assert [(s.at - T0, s.node_id, s.port) for s in steps][-2:] == [
        (timedelta(days=2), "click", "timeout"),
        (timedelta(days=2), "cold", None),
    ]


def test_the_clock_stops_at_until() -> None:
    steps = simulate(SCENARIO, LEAD, c.Schema(), SHANGHAI, T0, [], T0 + timedelta(days=2))
    assert [(s.node_id, s.outcome) for s in steps] == [
        ("start", "done"),
        ("welcome", "done"),
        ("three_days", "waiting"),
    ]
    steps = simulate(SCENARIO, LEAD, c.Schema(), SHANGHAI, T0, [], T0 + timedelta(days=3))
    assert steps[-1].node_id == "tuesday"  # the end of the wait is still in time


def test_an_endless_loop_stops_after_max_steps() -> None:
    graph = build(
        [ENTRY, {"id": "w", "kind": "wait", "mode": "duration", "seconds": 60},
         {"id": "ping", "kind": "notify", "text": "again"}],
        [("start", "w", "out"), ("w", "ping", "out"), ("ping", "w", "out")],
    )  # fmt: skip
    assert checks.validate(graph) == []
    steps = simulate(graph, LEAD, c.Schema(), SHANGHAI, T0, [], T0 + timedelta(days=365))
    assert len(steps) == MAX_STEPS
    # two steps at the start, then three a minute (wait over, ping, waiting again): 998 steps
    # by minute 332, and the last two at minute 333
    assert steps[-1].at == T0 + timedelta(minutes=333)
    assert (steps[-2].node_id, steps[-1].node_id) == ("w", "ping")
