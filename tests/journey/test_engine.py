"""The pure engine: scenario 5 step by step; waits until a weekday and time across DST changes
and without them; waits for an event or its timeout; a deterministic split in proportion to
its weights; goals that pull a contact from anywhere; effects seen by later branches of the
same run; the step guard on a loop; and, on random valid graphs, a run that never raises and
always ends waiting or finished (hypothesis)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guanxi.journey import checks
from guanxi.journey import engine as e
from guanxi.journey import graph as g
from guanxi.journey.engine import Step
from guanxi.segment import conditions as c
from tests.journey.test_graph import DAY, ENTRY, EXIT, build, scenario_5

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
T0 = datetime(2026, 3, 5, 1, 0, tzinfo=UTC)  # Thursday 09:00 in Shanghai
SCENARIO = g.Graph.model_validate(scenario_5())
LEAD = c.Profile(fields={"stage": "lead"})


def facts(
    profile: c.Profile = LEAD,
    events: tuple[c.EventFact, ...] = (),
    tz: ZoneInfo = SHANGHAI,
    schema: c.Schema | None = None,
) -> e.Facts:
    return e.Facts(profile, schema or c.Schema(), tz, events)


def at(tz: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=tz).astimezone(UTC)  # type: ignore[misc]


def test_scenario_5_waits_three_days_then_follows_the_open() -> None:
    enrolment = e.start(SCENARIO, 42, 7, T0)
    first = e.run(SCENARIO, enrolment, facts(), T0)
    assert first.steps == [
        Step("start", "done", "out"),
        Step("welcome", "done", "out"),
        Step("three_days", "waiting"),
    ]
    assert first.effects == [e.Send("welcome", "email", 1, True, None, 1)]
    assert (first.node_id, first.node_entered_at, first.finished) == ("three_days", T0, False)
    assert first.wait_until == T0 + timedelta(days=3)
    assert first.visits == {"start": 1, "welcome": 1, "three_days": 1}
    assert first.state == {"wait_until": "2026-03-08T01:00:00+00:00"}

    waiting = e.after(enrolment, first)
    early = e.run(SCENARIO, waiting, facts(), T0 + timedelta(days=1))  # an early wake: harmless
    assert early.steps == [Step("three_days", "waiting")]
    assert (early.wait_until, early.effects, early.visits) == (first.wait_until, [], first.visits)

    opened = c.EventFact("email_opened", T0 + timedelta(hours=2), {"journey_node": "welcome"})
    then = e.run(SCENARIO, waiting, facts(c.Profile({"stage": "lead"}, events=(opened,))), T0 + timedelta(days=3))  # fmt: skip
    assert then.steps == [
        Step("three_days", "done", "out"),
        Step("opened", "done", "yes"),
        Step("wecom", "done", "out"),
        Step("tuesday", "waiting"),
    ]
    assert then.effects == [e.Send("wecom", "wecom", 2, True, "owner", 1)]
    assert then.wait_until == at(SHANGHAI, 2026, 3, 10, 10, 0)  # Sunday 09:00 → Tuesday 10:00
    assert then.node_entered_at == T0 + timedelta(days=3)

    other = c.EventFact("email_opened", T0 + timedelta(hours=2), {"journey_node": "elsewhere"})
    unopened = e.run(SCENARIO, waiting, facts(c.Profile({"stage": "lead"}, events=(other,))), T0 + timedelta(days=3, hours=5))  # fmt: skip
    assert [s.port for s in unopened.steps] == ["out", "no", "out", None]
    assert unopened.effects == [e.Send("sms", "sms", 3, True, None, 1)]

    tuesday = e.after(waiting, then)
    last = e.run(SCENARIO, tuesday, facts(), then.wait_until)
    assert last.steps == [Step("tuesday", "done", "out"), Step("case_study", "done")]
    assert last.effects == [e.Send("case_study", "email", 4, True, None, 1)]
    assert (last.finished, last.exit_reason, last.wait_until) == (True, "completed", None)
    assert last.node_id == "case_study"


def test_advance_executes_one_node() -> None:
    enrolment = e.start(SCENARIO, 1, 1, T0)
    one = e.advance(SCENARIO, enrolment, facts(), T0)
    assert (one.steps, one.node_id, one.wait_until, one.finished) == (
        [Step("start", "done", "out")], "welcome", None, False,
    )  # fmt: skip
    two = e.advance(SCENARIO, e.after(enrolment, one), facts(), T0)
    # arriving at a wait fixes when it ends
    assert (two.node_id, two.wait_until) == ("three_days", T0 + timedelta(days=3))
    assert two.state["wait_until"] == "2026-03-08T01:00:00+00:00"


def test_next_weekday_time_keeps_the_wall_clock_across_dst() -> None:
    tuesday_10 = ((2,), "10:00")
    # New York springs forward on Sunday 8 March 2026: 10:00 is then 14:00 UTC, not 15:00
    friday = at(NEW_YORK, 2026, 3, 6, 12, 0)
    assert e.next_weekday_time(friday, *tuesday_10, NEW_YORK) == datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # fmt: skip
    # and falls back on Sunday 1 November 2026: 10:00 is then 15:00 UTC
    friday = at(NEW_YORK, 2026, 10, 30, 12, 0)
    assert e.next_weekday_time(friday, *tuesday_10, NEW_YORK) == datetime(2026, 11, 3, 15, 0, tzinfo=UTC)  # fmt: skip
    # 02:30 does not exist on 8 March: the moment is 03:30 EDT
    saturday = at(NEW_YORK, 2026, 3, 7, 12, 0)
    assert e.next_weekday_time(saturday, (7,), "02:30", NEW_YORK) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # fmt: skip
    # 01:30 happens twice on 1 November: the first one (EDT)
    saturday = at(NEW_YORK, 2026, 10, 31, 12, 0)
    assert e.next_weekday_time(saturday, (7,), "01:30", NEW_YORK) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # fmt: skip


def test_next_weekday_time_in_shanghai_is_strictly_after() -> None:
    tuesday_10 = at(SHANGHAI, 2026, 3, 10, 10, 0)
    assert tuesday_10 == datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    before = tuesday_10 - timedelta(minutes=1)
    assert e.next_weekday_time(before, (2,), "10:00", SHANGHAI) == tuesday_10
    assert e.next_weekday_time(tuesday_10, (2,), "10:00", SHANGHAI) == tuesday_10 + timedelta(days=7)  # fmt: skip
    wednesday = at(SHANGHAI, 2026, 3, 11, 9, 0)
    assert e.next_weekday_time(wednesday, (1, 3, 5), "08:00", SHANGHAI) == at(SHANGHAI, 2026, 3, 13, 8, 0)  # fmt: skip
    # the weekday is the contact's: 23:00 UTC on Monday is already Tuesday in Shanghai
    monday_late = datetime(2026, 3, 9, 23, 0, tzinfo=UTC)
    assert e.next_weekday_time(monday_late, (2,), "10:00", SHANGHAI) == tuesday_10


def test_a_wait_until_in_the_contacts_timezone() -> None:
    graph = build(
        [ENTRY, {"id": "w", "kind": "wait", "mode": "until", "weekdays": [2], "time": "10:00"},
         {"id": "t", "kind": "tag", "add": [1]}],
        [("start", "w", "out"), ("w", "t", "out")],
    )  # fmt: skip
    friday = at(NEW_YORK, 2026, 3, 6, 12, 0)
    enrolment = e.start(graph, 1, 1, friday)
    waiting = e.run(graph, enrolment, facts(tz=NEW_YORK), friday)
    due = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
    assert waiting.wait_until == due
    enrolment = e.after(enrolment, waiting)
    almost = e.run(graph, enrolment, facts(tz=NEW_YORK), due - timedelta(seconds=1))
    assert (almost.steps, almost.wait_until) == ([Step("w", "waiting")], due)
    # the contact moved to Shanghai meanwhile: the moment fixed on arrival holds
    done = e.run(graph, enrolment, facts(tz=SHANGHAI), due)
    assert done.steps == [Step("w", "done", "out"), Step("t", "done")]
    assert done.effects == [e.Tag((1,), ())]


WAIT_FOR_CLICK = build(
    [
        ENTRY,
        {"id": "click", "kind": "wait", "mode": "event", "event_type": "email_clicked",
         "filters": [{"property": "url", "op": "contains", "value": "/pricing"}],
         "timeout_s": 2 * DAY},
        {"id": "hot", "kind": "tag", "add": [1]},
        {"id": "cold", "kind": "tag", "add": [2]},
    ],
    [("start", "click", "out"), ("click", "hot", "event"), ("click", "cold", "timeout")],
)  # fmt: skip


def _click(hours: float, url: str = "/pricing/pro", type: str = "email_clicked") -> c.EventFact:
    return c.EventFact(type, T0 + timedelta(hours=hours), {"url": url})


def test_a_wait_for_an_event_takes_the_event_or_the_timeout() -> None:
    assert e.wake_events(WAIT_FOR_CLICK) == {"email_clicked"}
    enrolment = e.start(WAIT_FOR_CLICK, 1, 1, T0)
    first = e.run(WAIT_FOR_CLICK, enrolment, facts(), T0)
    assert (first.node_id, first.wait_until) == ("click", T0 + timedelta(days=2))
    waiting = e.after(enrolment, first)

    def ports(events: tuple[c.EventFact, ...], now: datetime) -> list[str | None]:
        return [s.port for s in e.run(WAIT_FOR_CLICK, waiting, facts(events=events), now).steps]

    an_hour = T0 + timedelta(hours=1)
    assert ports((_click(1),), an_hour) == ["event", None]
    not_these = (_click(-1), _click(1, "/blog"), _click(1, type="email_opened"), _click(3))
    assert ports(not_these, an_hour) == [None]  # before arrival, other page, other type, future
    assert ports((), T0 + timedelta(days=2)) == ["timeout", None]
    # a runner that comes late still tells a click in time from one after the timeout
    assert ports((_click(24),), T0 + timedelta(days=3)) == ["event", None]
    assert ports((_click(49),), T0 + timedelta(days=3)) == ["timeout", None]
    assert e.run(WAIT_FOR_CLICK, waiting, facts(events=(_click(1),)), an_hour).effects == [
        e.Tag((1,), ())
    ]


SPLIT = build(
    [
        ENTRY,
        {"id": "ab", "kind": "split", "variants": [{"key": "a", "weight": 1}, {"key": "b", "weight": 3}]},
        {"id": "ta", "kind": "tag", "add": [1]},
        {"id": "tb", "kind": "tag", "add": [2]},
    ],
    [("start", "ab", "out"), ("ab", "ta", "a"), ("ab", "tb", "b")],
)  # fmt: skip


def test_a_split_is_deterministic_and_follows_its_weights() -> None:
    variants = g.node(SPLIT, "ab").variants  # type: ignore[union-attr]
    # pinned: the same answer on every machine, process and version
    assert [e.choose_variant(variants, i, "ab", 1) for i in range(1, 9)] == list("babbbabb")
    assert [e.choose_variant(variants, 1, "ab", v) for v in range(1, 5)] == list("bbab")
    taken = Counter(e.choose_variant(variants, i, "ab", 1) for i in range(20_000))
    assert 0.73 < taken["b"] / 20_000 < 0.77
    for i in (1, 2, 6):
        t = e.run(SPLIT, e.start(SPLIT, i, 1, T0), facts(), T0)
        assert t.steps[1] == Step("ab", "done", e.choose_variant(variants, i, "ab", 1))
        assert t.steps == e.run(SPLIT, e.start(SPLIT, i, 1, T0), facts(), T0).steps


def test_a_goal_pulls_the_contact_from_a_wait() -> None:
    enrolment = e.start(SCENARIO, 1, 1, T0)
    waiting = e.after(enrolment, e.run(SCENARIO, enrolment, facts(), T0))
    sql = c.Profile(fields={"stage": "sql"})
    pulled = e.run(SCENARIO, waiting, facts(sql), T0 + timedelta(days=1))
    assert pulled.steps == [Step("sql", "goal")]
    assert (pulled.finished, pulled.exit_reason, pulled.node_id) == (True, "goal", "sql")
    assert pulled.state == {"goals": ["sql"]}  # the wait is over
    assert pulled.visits["sql"] == 1
    assert e.goals_touched_by(SCENARIO, {"stage_changed"}, set())
    assert not e.goals_touched_by(SCENARIO, {"page_view"}, set())


GOAL_THEN_THANKS = build(
    [
        ENTRY,
        {"id": "w", "kind": "wait", "mode": "duration", "seconds": DAY},
        EXIT,
        {"id": "won", "kind": "goal", "condition": {"kind": "tag", "tags": ["9"]}},
        {"id": "thanks", "kind": "notify", "text": "won"},
        {"id": "later", "kind": "wait", "mode": "duration", "seconds": 60},
    ],
    [("start", "w", "out"), ("w", "end", "out"), ("won", "thanks", "out"), ("thanks", "later", "out")],
)  # fmt: skip


def test_after_a_goal_the_contact_goes_on_and_is_not_pulled_again() -> None:
    won = c.Profile(fields={}, tags=frozenset({"9"}))
    t = e.run(GOAL_THEN_THANKS, e.start(GOAL_THEN_THANKS, 1, 1, T0), facts(won), T0)
    assert t.steps == [
        Step("won", "goal", "out"), Step("thanks", "done", "out"), Step("later", "waiting"),
    ]  # fmt: skip
    assert t.effects == [e.Notify("owner", "won")]
    assert t.state == {"goals": ["won"], "wait_until": (T0 + timedelta(minutes=1)).isoformat()}
    again = e.run(GOAL_THEN_THANKS, e.after(e.start(GOAL_THEN_THANKS, 1, 1, T0), t), facts(won), T0)
    assert again.steps == [Step("later", "waiting")]


def test_a_goal_reached_by_an_edge_without_its_condition_is_passed_by() -> None:
    graph = build(
        [ENTRY, {"id": "won", "kind": "goal", "condition": {"kind": "tag", "tags": ["9"]}}, EXIT],
        [("start", "won", "out"), ("won", "end", "out")],
    )
    t = e.run(graph, e.start(graph, 1, 1, T0), facts(), T0)
    assert t.steps == [
        Step("start", "done", "out"), Step("won", "done", "out", "goal_not_met"), Step("end", "exit"),
    ]  # fmt: skip
    assert (t.exit_reason, t.state) == ("exit_node", {"goals": ["won"]})
    met = e.run(graph, e.start(graph, 1, 1, T0), facts(c.Profile({}, tags=frozenset({"9"}))), T0)
    assert met.steps == [Step("won", "goal", "out"), Step("end", "exit")]


def test_effects_are_seen_by_later_branches_of_the_same_run() -> None:
    schema = c.Schema(contact_custom={"plan": "text"})

    def branch(node_id: str, condition: dict[str, Any]) -> dict[str, Any]:
        return {"id": node_id, "kind": "branch", "condition": condition}

    graph = build(
        [
            ENTRY,
            {"id": "t", "kind": "tag", "add": [5], "remove": [6]},
            branch("has5", {"kind": "tag", "tags": ["5"]}),
            branch("no6", {"kind": "tag", "op": "none", "tags": ["6"]}),
            {"id": "mql", "kind": "stage", "stage": "mql"},
            branch("is_mql", {"kind": "field", "field": "stage", "op": "eq", "value": "mql"}),
            {"id": "plan", "kind": "set_field", "field": "custom.plan", "value": "pro"},
            branch("is_pro", {"kind": "field", "field": "custom.plan", "op": "eq", "value": "pro"}),
            {"id": "ok", "kind": "notify", "text": "all seen"},
            EXIT,
        ],
        [("start", "t", "out"), ("t", "has5", "out"), ("has5", "no6", "yes"), ("has5", "end", "no"),
         ("no6", "mql", "yes"), ("no6", "end", "no"), ("mql", "is_mql", "out"),
         ("is_mql", "plan", "yes"), ("is_mql", "end", "no"), ("plan", "is_pro", "out"),
         ("is_pro", "ok", "yes"), ("is_pro", "end", "no")],
    )  # fmt: skip
    assert checks.validate(graph) == []
    fresh = c.Profile(fields={"stage": "lead"}, tags=frozenset({"6"}))
    t = e.run(graph, e.start(graph, 1, 1, T0), facts(fresh, schema=schema), T0)
    assert [s.port for s in t.steps if s.node_id in ("has5", "no6", "is_mql", "is_pro")] == ["yes"] * 4  # fmt: skip
    assert t.effects == [
        e.Tag((5,), (6,)), e.Stage("mql"), e.SetField("custom.plan", "pro"), e.Notify("owner", "all seen"),
    ]  # fmt: skip
    assert (t.finished, t.exit_reason, t.node_id) == (True, "completed", "ok")
    # a contact already so: those steps change nothing and are skipped
    already = c.Profile(fields={"stage": "mql", "custom": {"plan": "pro"}}, tags=frozenset({"5"}))
    t = e.run(graph, e.start(graph, 1, 1, T0), facts(already, schema=schema), T0)
    assert [s for s in t.steps if s.outcome == "skipped"] == [
        Step("t", "skipped", "out", "no_change"),
        Step("mql", "skipped", "out", "no_change"),
        Step("plan", "skipped", "out", "no_change"),
    ]
    assert t.effects == [e.Notify("owner", "all seen")]


def test_apply_changes_tags_and_fields() -> None:
    profile = c.Profile(fields={"city": "上海", "custom": {"a": 1}}, tags=frozenset({"1", "2"}))
    changed = e.apply(
        profile,
        [e.Tag((3,), (1,)), e.SetField("city", "北京"), e.SetField("custom.b", 2), e.Stage("sql"),
         e.Score(1, 5, None)],
    )  # fmt: skip
    assert changed.tags == frozenset({"2", "3"})
    assert changed.fields == {"city": "北京", "custom": {"a": 1, "b": 2}, "stage": "sql"}
    assert profile.fields == {"city": "上海", "custom": {"a": 1}}  # untouched


def test_each_action_asks_for_its_effect() -> None:
    graph = build(
        [
            ENTRY,
            {"id": "todo", "kind": "task", "title": "call", "due_in_s": 3600, "assignee": 5},
            {"id": "hook", "kind": "webhook", "endpoint_id": 21, "payload_fields": ["email", "custom.plan"]},
            {"id": "next", "kind": "enrol", "journey_id": 8},
            {"id": "pts", "kind": "score", "model_id": 3, "points": -2.5, "reason": "quiet"},
            {"id": "rr", "kind": "assign", "round_robin": [11, 12]},
            {"id": "own", "kind": "assign", "owner_id": 13},
            EXIT,
        ],
        [("start", "todo", "out"), ("todo", "hook", "out"), ("hook", "next", "out"),
         ("next", "pts", "out"), ("pts", "rr", "out"), ("rr", "own", "out"), ("own", "end", "out")],
    )  # fmt: skip
    t = e.run(graph, e.start(graph, 1, 1, T0), facts(), T0)
    assert t.effects == [
        e.Task("call", T0 + timedelta(hours=1), 5),
        e.Webhook(21, ("email", "custom.plan"), "hook", 1),
        e.Enrol(8),
        e.Score(3, -2.5, "quiet"),
        e.Assign(None, (11, 12)),
        e.Assign(13, ()),
    ]
    assert (t.steps[-1], t.exit_reason, t.finished) == (Step("end", "exit"), "exit_node", True)


def test_a_loop_through_a_wait_takes_each_event_once() -> None:
    """Back at the wait at the very moment of the event that let it out, the enrolment does not
    take that event again (or it would go round at once, for ever): it waits for the next."""
    graph = build(
        [ENTRY, {"id": "w", "kind": "wait", "mode": "event", "event_type": "ping", "timeout_s": 60},
         {"id": "pts", "kind": "score", "model_id": 1, "points": 1}, EXIT],
        [("start", "w", "out"), ("w", "pts", "event"), ("pts", "w", "out"), ("w", "end", "timeout")],
    )  # fmt: skip
    assert checks.validate(graph) == []
    pings = (c.EventFact("ping", T0, {}), c.EventFact("ping", T0, {"again": True}))
    enrolment = e.start(graph, 1, 1, T0)
    t = e.run(graph, enrolment, facts(events=pings), T0)
    assert t.steps == [
        Step("start", "done", "out"), Step("w", "done", "event"),
        Step("pts", "done", "out"), Step("w", "waiting"),
    ]  # fmt: skip
    assert (t.wait_until, t.state["taken"]) == (T0 + timedelta(minutes=1), {"ping": T0.isoformat()})
    later = c.EventFact("ping", T0 + timedelta(seconds=30), {})
    t = e.run(graph, e.after(enrolment, t), facts(events=(*pings, later)), later.occurred_at)
    assert [s.port for s in t.steps] == ["event", "out", None]
    assert t.visits == {"start": 1, "w": 3, "pts": 2}


def test_max_steps_stops_a_long_run_that_is_due_again_now() -> None:
    chain = [{"id": f"n{i}", "kind": "notify", "text": str(i)} for i in range(12)]
    graph = build(
        [ENTRY, *chain],
        [("start", "n0", "out")] + [(f"n{i}", f"n{i + 1}", "out") for i in range(11)],
    )
    enrolment = e.start(graph, 1, 1, T0)
    t = e.run(graph, enrolment, facts(), T0, max_steps=5)
    assert (len(t.steps), t.node_id, t.finished, t.wait_until) == (5, "n4", False, None)
    rest = e.run(graph, e.after(enrolment, t), facts(), T0, max_steps=50)
    assert [s.node_id for s in rest.steps] == [f"n{i}" for i in range(4, 12)]
    assert (rest.finished, rest.exit_reason, len(t.effects) + len(rest.effects)) == (
        True,
        "completed",
        12,
    )


# -- random valid graphs -----------------------------------------------------------------------

TAG_IDS = [1, 2, 3]
CONDITIONS = st.one_of(
    st.builds(lambda t: {"kind": "tag", "tags": [str(t)]}, st.sampled_from(TAG_IDS)),
    st.builds(lambda s: {"kind": "field", "field": "stage", "op": "eq", "value": s}, st.sampled_from(["mql", "sql"])),
)  # fmt: skip


@st.composite
def configs(draw: st.DrawFn, node_id: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(["wait_d", "wait_u", "wait_e", "branch", "split", "send", "tag", "stage", "goal"]))  # fmt: skip
    tags = st.lists(st.sampled_from(TAG_IDS), max_size=2, unique=True)
    made: dict[str, Any] = {
        "wait_d": lambda: {"kind": "wait", "mode": "duration", "seconds": 60 * draw(st.integers(1, 3000))},
        "wait_u": lambda: {"kind": "wait", "mode": "until", "weekdays": draw(st.lists(st.integers(1, 7), min_size=1, unique=True)), "time": "10:00"},
        "wait_e": lambda: {"kind": "wait", "mode": "event", "event_type": "ping", "timeout_s": 3600},
        "branch": lambda: {"kind": "branch", "condition": draw(CONDITIONS)},
        "split": lambda: {"kind": "split", "variants": [{"key": "a", "weight": 1}, {"key": "b", "weight": 2}]},
        "send": lambda: {"kind": "send", "channel": "sms", "template_id": 1},
        "tag": lambda: {"kind": "tag", "add": draw(tags), "remove": draw(tags)},
        "stage": lambda: {"kind": "stage", "stage": draw(st.sampled_from(["mql", "sql"]))},
        "goal": lambda: {"kind": "goal", "condition": draw(CONDITIONS)},
    }  # fmt: skip
    config: dict[str, Any] = made[kind]()
    if kind == "tag" and not config["add"] and not config["remove"]:
        config["add"] = [1]
    return {"id": node_id, **config}


@st.composite
def valid_graphs(draw: st.DrawFn) -> g.Graph:
    """Each node hangs from a free port of an earlier one (so all are reachable); other edges
    go forward, or back to a wait (so every loop waits); required ports left over go to the
    exit at the end."""
    count = draw(st.integers(1, 12))
    nodes = [ENTRY, *(draw(configs(f"n{i}")) for i in range(count)), EXIT]
    built = [g.Graph.model_validate({"nodes": [n]}).nodes[0] for n in nodes]
    free: list[tuple[int, str]] = [(0, "out")]
    edges: list[tuple[str, str, str]] = []
    for i, n in enumerate(built[1:], start=1):
        if not isinstance(n, g.GoalNode):
            source, port = free.pop(draw(st.integers(0, len(free) - 1)))
            edges.append((built[source].id, n.id, port))
        free += [(i, p) for p in g.ports(n)]
    waits = [i for i, n in enumerate(built) if isinstance(n, g.WAITS)]
    for source, port in free:
        later = list(range(source + 1, len(built))) + waits
        if port in g.required_ports(built[source]) or draw(st.booleans()):
            edges.append((built[source].id, built[draw(st.sampled_from(later))].id, port))
    return build(nodes, edges)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    valid_graphs(),
    st.sets(st.sampled_from(["1", "2", "3"])),
    st.lists(st.integers(0, 200), max_size=5),
    st.integers(1, 10_000),
)
def test_a_valid_graph_always_ends_waiting_or_finished(
    graph: g.Graph, tags: set[str], ping_minutes: list[int], enrolment_id: int
) -> None:
    assert checks.validate(graph) == []
    # pings at odd seconds, never at the very moment a wait begins
    pings = tuple(c.EventFact("ping", T0 + timedelta(minutes=m, seconds=37), {}) for m in ping_minutes)  # fmt: skip
    profile = c.Profile(fields={"stage": "lead"}, tags=frozenset(tags))
    enrolment, now = e.start(graph, enrolment_id, 1, T0), T0
    for _ in range(6):
        t = e.run(graph, enrolment, facts(profile, pings), now, max_steps=10 * len(graph.nodes))
        assert t.finished or (t.wait_until is not None and t.wait_until > now)
        if t.finished:
            assert t.exit_reason in ("completed", "exit_node", "goal")
            return
        enrolment, profile = e.after(enrolment, t), e.apply(profile, t.effects)
        assert t.wait_until is not None
        now = min([t.wait_until, *(p.occurred_at for p in pings if p.occurred_at > now)])
