"""When may a condition's answer change for a contact with no new data? Pure.

A relative window moves with the clock: "viewed pricing in the last 14 days" stops holding 14
days after the last view, and a decaying score drops below a threshold at a computable moment.
``next_change`` gives the earliest such moment after ``now`` (or ``None``: the answer is fixed
until the data changes), so a segment can set a timer for the contact instead of being rebuilt
every night. It is conservative — it may wake a little early or at a moment where nothing
flips, never late — and ``tests/segment/test_timing.py`` holds that the answer is the same at
every moment before it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from guanxi.scoring import decay
from guanxi.segment.conditions import (
    EventCond,
    EventTimeCond,
    Profile,
    Schema,
    ScoreCond,
    compare,
    prop_matches,
    walk,
)

TICK = timedelta(microseconds=1)  # the first moment after an instant
HORIZON_HALF_LIVES = 10  # past this a decaying score is within 0.1% of where it tends
SAMPLES = 64  # probes of a smooth stretch of a score for a threshold crossing


def next_change(tree: Any, profile: Profile, schema: Schema, now: datetime) -> datetime | None:
    moments = [m for node in walk(tree) if (m := _leaf(node, profile, schema, now)) is not None]
    return min(moments, default=None)


def _times(node: EventCond | EventTimeCond, profile: Profile) -> list[datetime]:
    return [
        e.occurred_at
        for e in profile.events
        if e.type == node.type and all(prop_matches(f, e.properties) for f in node.where)
    ]


def _leaf(node: Any, profile: Profile, schema: Schema, now: datetime) -> datetime | None:
    if isinstance(node, EventCond) and node.window.days is not None:
        span = timedelta(days=node.window.days)
        moments = []
        for at in _times(node, profile):
            if at > now:
                moments.append(at)  # a future event enters the window then
            elif at + span >= now:
                moments.append(at + span + TICK)  # and leaves it after this
        return min(moments, default=None)
    if isinstance(node, EventTimeCond) and node.days_ago is not None:
        times = _times(node, profile)
        if not times:
            return None
        edge = (min(times) if node.which == "first" else max(times)) + timedelta(days=node.days_ago)
        return edge + TICK if edge >= now else None
    if isinstance(node, ScoreCond) and node.part != "fit":
        return _score_change(node, profile, schema, now)
    return None


def _points_models(model: str, schema: Schema) -> list[str]:
    spec = schema.score_models[model]
    return list(spec.weights) if spec.combined else [model]


def _score_change(
    node: ScoreCond, profile: Profile, schema: Schema, now: datetime
) -> datetime | None:
    specs = [(m, schema.score_models[m]) for m in _points_models(node.model, schema)]
    breaks: list[datetime] = []
    half_lives = []
    for model, spec in specs:
        fact = profile.scores.get(model, decay.ScoreFact())
        if spec.decay == "half_life" and fact.engagement:
            half_lives.append(spec.days or 1)
        elif spec.decay == "linear":
            span = timedelta(days=spec.days or 1)
            for at, _ in fact.points:
                breaks += [at] if at > now else [at + span + TICK] if at + span >= now else []
    if half_lives:
        breaks.append(now + timedelta(days=HORIZON_HALF_LIVES * max(half_lives)))
    if not breaks:
        return None  # nothing decays: the score stays as it is
    end = min(breaks)

    def holds(at: datetime) -> bool:
        value = decay.part(node.model, node.part, schema.score_models, profile.scores, at)
        return compare("number", node.op, value, node.value)

    if (
        specs == [(node.model, schema.score_models[node.model])]
        and specs[0][1].decay == "half_life"
    ):
        # one model decaying towards its fit: at most one crossing, solved, not searched for
        guess = _crossing(node, specs[0][1], profile.scores.get(specs[0][0], decay.ScoreFact()))
        if guess is None or guess <= now:
            return None
        found = _narrow(holds, now, guess)
        if found is not None:
            return found
    return _first_flip(holds, now, end) or end


def _crossing(node: ScoreCond, spec: decay.ScoreSpec, fact: decay.ScoreFact) -> datetime | None:
    """When ``A·2^(−t/h) (+ fit) = value`` for a half-life model, if ever."""
    gap = node.value - (fact.fit if node.part == "score" else 0.0)
    if not fact.engagement or gap / fact.engagement <= 0:
        return None
    days = (spec.days or 1) * math.log2(fact.engagement / gap)
    return spec.epoch + timedelta(days=days) if abs(days) < 1e6 else None


def _narrow(holds: Callable[[datetime], bool], start: datetime, guess: datetime) -> datetime | None:
    """The exact first moment after ``start`` where ``holds`` changes, if it lies within a
    second of ``guess`` and nothing changes before (``None`` otherwise)."""
    state = holds(start)
    low, high = max(start, guess - timedelta(seconds=1)), guess + timedelta(seconds=1)
    if holds(low) != state or holds(high) == state:
        return None
    while high - low > TICK:
        middle = low + (high - low) / 2
        if holds(middle) == state:
            low = middle
        else:
            high = middle
    return high


def _first_flip(
    holds: Callable[[datetime], bool], start: datetime, end: datetime
) -> datetime | None:
    """The first probe of (start, end] where ``holds`` differs from at ``start``, narrowed to
    the microsecond (datetime's grain, so no moment lies between); ``None`` if none differs."""
    state = holds(start)
    step = (end - start) / SAMPLES
    low = start
    for i in range(1, SAMPLES + 1):
        high = start + step * i
        if holds(high) != state:
            while high - low > TICK:
                middle = low + (high - low) / 2
                if holds(middle) == state:
                    low = middle
                else:
                    high = middle
            return high
        low = high
    return None


def moves_with_time(tree: Any, schema: Schema) -> bool:
    """Can this condition's answer change with no new data (so that members need timers)?"""
    for node in walk(tree):
        if isinstance(node, EventCond) and node.window.days is not None:
            return True
        if isinstance(node, EventTimeCond) and node.days_ago is not None:
            return True
        if isinstance(node, ScoreCond) and node.part != "fit":
            models = _points_models(node.model, schema)
            if any(schema.score_models[m].decay != "none" for m in models):
                return True
    return False
