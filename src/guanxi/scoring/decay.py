"""Score arithmetic, pure: what a model's points are worth at a moment, and grades.

A half-life model keeps a contact's engagement *anchored* to the model's epoch (see
``guanxi.models.scoring``): ``anchor(points, earned_at)`` is stored, ``factor(now)`` turns the
sum back into today's value. A linear model's points fade to nothing over its window: worth
``1 − age / window`` of themselves while ``0 ≤ age < window``. A combined model is a weighted sum
of other models (of their engagement, fit and score alike).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
DEFAULT_GRADES: Mapping[str, float] = {"A": 75.0, "B": 50.0, "C": 25.0}
GRADES = ("A", "B", "C", "D")
DAY = 86400.0


@dataclass(frozen=True)
class ScoreSpec:
    """What a condition needs to know of a model."""

    decay: str = "none"  # none | half_life | linear
    days: int | None = None
    epoch: datetime = EPOCH
    weights: Mapping[str, float] = field(default_factory=dict)  # combined: model id → weight
    grades: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_GRADES))

    @property
    def combined(self) -> bool:
        return bool(self.weights)


@dataclass(frozen=True)
class ScoreFact:
    """One contact's numbers in one points model: ``engagement`` as stored (anchored for
    half-life, the plain sum without decay), ``fit``, and for a linear model the points still
    inside its window as (earned_at, points)."""

    engagement: float = 0.0
    fit: float = 0.0
    points: Sequence[tuple[datetime, float]] = ()


def factor(spec: ScoreSpec, now: datetime) -> float:
    if spec.decay != "half_life":
        return 1.0
    return float(2.0 ** (-(now - spec.epoch).total_seconds() / ((spec.days or 1) * DAY)))


def anchor(spec: ScoreSpec, points: float, earned_at: datetime) -> float:
    """The stored form of ``points`` earned at ``earned_at``."""
    if spec.decay != "half_life":
        return points
    return points * float(
        2.0 ** ((earned_at - spec.epoch).total_seconds() / ((spec.days or 1) * DAY))
    )


def window_start(spec: ScoreSpec, now: datetime) -> datetime:
    return now - timedelta(days=spec.days or 1)


def linear_weight(spec: ScoreSpec, earned_at: datetime, now: datetime) -> float:
    """What a point earned at ``earned_at`` is worth at ``now`` in a linear model."""
    start = window_start(spec, now)
    if not start < earned_at <= now:
        return 0.0
    return (earned_at - start).total_seconds() / ((spec.days or 1) * DAY)


def worth(spec: ScoreSpec, points: float, earned_at: datetime, now: datetime) -> float:
    """What ``points`` earned at ``earned_at`` are worth at ``now``."""
    if spec.decay == "linear":
        return points * linear_weight(spec, earned_at, now)
    return anchor(spec, points, earned_at) * factor(spec, now)


def engagement(spec: ScoreSpec, fact: ScoreFact, now: datetime) -> float:
    if spec.decay == "linear":
        return sum(p * linear_weight(spec, at, now) for at, p in fact.points)
    return fact.engagement * factor(spec, now)


def part(
    model: str,
    which: str,
    specs: Mapping[str, ScoreSpec],
    facts: Mapping[str, ScoreFact],
    now: datetime,
) -> float:
    """``which`` (score, engagement or fit) of ``model`` for a contact with these facts; a
    contact the model never scored has 0 of everything."""
    spec = specs[model]
    if spec.combined:
        return sum(w * part(m, which, specs, facts, now) for m, w in spec.weights.items())
    fact = facts.get(model, ScoreFact())
    if which == "fit":
        return fact.fit
    value = engagement(spec, fact, now)
    return value if which == "engagement" else value + fact.fit


def grade(spec: ScoreSpec, fit: float) -> str:
    """A, B or C at or above its threshold, D below C's."""
    for letter in GRADES[:3]:
        threshold = spec.grades.get(letter)
        if threshold is not None and fit >= threshold:
            return letter
    return "D"
