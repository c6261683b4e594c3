"""Timers for moving windows: ``next_change`` never comes late — on random trees and random
contacts, the answer at every moment before it is the answer now — and it is not needlessly
early for the plain cases (a window's edge, a half-life crossing)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guanxi.scoring.decay import ScoreFact, anchor
from guanxi.segment import conditions as c
from guanxi.segment.timing import TICK, next_change
from tests.segment.test_conditions import (
    NOW,
    POINTS_MODELS,
    SCHEMA,
    TYPES,
    URLS,
    leaf_event,
    leaf_event_time,
    leaf_field,
    leaf_profile,
)

EXAMPLES = 500


@st.composite
def moving_event(draw: st.DrawFn) -> c.EventCond:
    """A count in the last N days: the window every behavioural segment has."""
    return c.EventCond(
        type=draw(st.sampled_from(TYPES)),
        window=c.Window(days=draw(st.sampled_from([1, 7, 14]))),
        op=draw(st.sampled_from(["gte", "lt", "eq"])),
        value=draw(st.sampled_from([1, 2])),
    )


# mostly the leaves that move with time, mixed with some that do not
TREES = st.recursive(
    st.one_of(moving_event(), leaf_event(), leaf_event_time(), leaf_profile(), leaf_field()),
    lambda children: st.one_of(
        st.builds(lambda xs: c.And(all=tuple(xs)), st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda xs: c.Or(any=tuple(xs)), st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda x: c.Not(condition=x), children),
    ),
    max_leaves=6,
)
FAR = timedelta(days=800)


def _profile(rng: random.Random) -> c.Profile:
    events = []
    for i in range(rng.randrange(3, 9)):
        kind = TYPES[i % len(TYPES)]
        props: dict[str, Any] = {"url": rng.choice(URLS)}
        if kind == "order":
            props["amount"] = rng.choice([10, 99.5, 1000])
        at = NOW - timedelta(days=rng.choice([0, 1, 6, 7, 13, 14, 15, 40]), hours=rng.randrange(24))
        events.append(c.EventFact(kind, at + timedelta(minutes=rng.choice([0, 3])), props))
    scores = {}
    for model in POINTS_MODELS:
        spec = SCHEMA.score_models[model]
        points = [
            (NOW - timedelta(days=rng.choice([0, 1, 6, 13, 20]), hours=3), rng.choice([5, -5, 20]))
            for _ in range(rng.randrange(1, 4))
        ]
        engagement = sum(anchor(spec, p, at) for at, p in points)
        scores[model] = ScoreFact(engagement, rng.choice([0.0, 10.0, -10.0]), tuple(points))
    return c.Profile(
        {"city": rng.choice(["上海", None]), "custom": {}},
        events=events,
        tags=frozenset(rng.sample(["1", "2", "3"], rng.randrange(0, 3))),
        scores=scores,
    )


TIMED: list[bool] = []


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
    derandomize=True,  # the same examples every run: the count below is stable
)
@given(
    tree=TREES, rng=st.randoms(use_true_random=False), probes=st.lists(st.floats(0, 1), max_size=6)
)
def test_the_answer_holds_until_the_next_change(
    tree: Any, rng: random.Random, probes: list[float]
) -> None:
    profile = _profile(rng)
    now_holds = c.evaluate(tree, profile, SCHEMA, NOW)
    due = next_change(tree, profile, SCHEMA, NOW)
    TIMED.append(due is not None)
    until = due if due is not None else NOW + FAR
    assert until > NOW
    for fraction in [*probes, 0.999999]:
        at = NOW + (until - NOW) * fraction
        if at < until:
            assert c.evaluate(tree, profile, SCHEMA, at) == now_holds, (tree.model_dump(), at)


def test_the_random_trees_set_timers_often() -> None:
    TIMED.clear()
    test_the_answer_holds_until_the_next_change()
    print(f"{sum(TIMED)} of {len(TIMED)} examples set a timer")
    assert sum(TIMED) > len(TIMED) // 4  # the property above is not about fixed answers only


def test_a_window_is_rechecked_as_its_oldest_event_leaves() -> None:
    seen = [NOW - timedelta(days=3), NOW - timedelta(days=10)]
    profile = c.Profile({}, events=[c.EventFact("page_view", t, {"url": "/pricing"}) for t in seen])
    twice = c.EventCond(type="page_view", window=c.Window(days=14), op="gte", value=2)
    due = next_change(twice, profile, SCHEMA, NOW)
    assert due == seen[1] + timedelta(days=14) + TICK
    assert c.evaluate(twice, profile, SCHEMA, due - TICK)
    assert not c.evaluate(twice, profile, SCHEMA, due)
    assert next_change(twice, c.Profile({}), SCHEMA, NOW) is None  # nothing to leave


def test_a_decaying_score_is_rechecked_when_it_falls_below_the_threshold() -> None:
    spec = SCHEMA.score_models["101"]  # half-life 30 days
    profile = c.Profile({}, scores={"101": ScoreFact(anchor(spec, 40, NOW), 0.0)})
    above = c.ScoreCond(model="101", op="gte", value=20)
    due = next_change(above, profile, SCHEMA, NOW)
    assert due is not None
    assert abs(due - (NOW + timedelta(days=30))) < timedelta(seconds=2)
    assert c.evaluate(above, profile, SCHEMA, due - timedelta(seconds=2))
    assert not c.evaluate(above, profile, SCHEMA, due)
    # fit does not move with time
    assert next_change(c.ScoreCond(model="101", part="fit", value=1), profile, SCHEMA, NOW) is None
