"""Engagement points, pure: which rules an event earns points by, and how many once the rule's
cap for its period is taken into account. The reactor (new events) and the re-score job (every
event again) share it, so a replay gives what live scoring gave.

A cap bounds the points one rule gives one contact within any ``cap_days`` days (looking back
from each event): an event that would pass the cap earns what is left of it, then nothing until
older points leave the period. For a negative rule the cap bounds what it takes away.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from guanxi.segment.conditions import PropFilter, prop_matches


@dataclass(frozen=True)
class EngagementRule:
    id: int
    model_id: int
    event_type: str
    where: tuple[PropFilter, ...] = ()
    points: float = 0.0
    cap: float | None = None
    cap_days: int | None = None
    points_from: str | None = None  # the event carries its points in this property

    def matches(self, type_: str, properties: Mapping[str, Any]) -> bool:
        return type_ == self.event_type and all(prop_matches(f, properties) for f in self.where)

    def capped(self) -> bool:
        return self.cap is not None and self.cap_days is not None


@dataclass(frozen=True)
class EventSeen:
    id: int
    contact_id: int
    type: str
    occurred_at: datetime
    properties: Mapping[str, Any]


@dataclass(frozen=True)
class Award:
    rule: EngagementRule
    contact_id: int
    event_id: int
    points: float
    earned_at: datetime


@dataclass
class Earlier:
    """Points a rule gave a contact before (within the widest cap period), by the time earned."""

    by: dict[tuple[int, int], list[tuple[datetime, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def add(self, rule_id: int, contact_id: int, at: datetime, points: float) -> None:
        self.by[rule_id, contact_id].append((at, points))

    def within(self, rule: EngagementRule, contact_id: int, at: datetime) -> float:
        start = at - timedelta(days=rule.cap_days or 0)
        return sum(p for t, p in self.by.get((rule.id, contact_id), ()) if start < t <= at)


def award(
    rules: Sequence[EngagementRule], events: Iterable[EventSeen], earlier: Earlier
) -> list[Award]:
    """The points ``events`` earn, in the order they happened. ``earlier`` holds what capped
    rules gave before and is extended with what is awarded here."""
    by_type: dict[str, list[EngagementRule]] = defaultdict(list)
    for rule in rules:
        by_type[rule.event_type].append(rule)
    awards: list[Award] = []
    for event in sorted(events, key=lambda e: (e.occurred_at, e.id)):
        for rule in by_type.get(event.type, ()):
            if not rule.matches(event.type, event.properties):
                continue
            points = rule.points
            if rule.points_from is not None:
                points = _number(event.properties.get(rule.points_from))
            if rule.capped():
                left = max(
                    0.0,
                    (rule.cap or 0.0)
                    - abs(earlier.within(rule, event.contact_id, event.occurred_at)),
                )
                points = min(abs(points), left) * (1 if points >= 0 else -1)
            if points == 0:
                continue
            if rule.capped():
                earlier.add(rule.id, event.contact_id, event.occurred_at, points)
            awards.append(Award(rule, event.contact_id, event.id, points, event.occurred_at))
    return awards


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


ADJUSTED = "score_adjusted"


def adjustment_rule(model_id: int) -> EngagementRule:
    """The points a journey step gives or takes (a ``score_adjusted`` event naming the model),
    scored like a rule of the model so that a re-score from the events gives them again. Its
    id is the model's, negated: no stored rule has it."""
    return EngagementRule(
        id=-model_id,
        model_id=model_id,
        event_type=ADJUSTED,
        where=(PropFilter(property="model", op="eq", value=str(model_id)),),
        points_from="points",
    )
