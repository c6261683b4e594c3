"""Engagement points, pure: property filters, caps per period (what is left of the cap, points
coming back as the period moves on), negative rules capped by magnitude, time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from guanxi.scoring.rules import Earlier, EngagementRule, EventSeen, award
from guanxi.segment.conditions import PropFilter

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
PRICING = EngagementRule(
    id=1,
    model_id=9,
    event_type="page_view",
    where=(PropFilter(property="url", op="contains", value="/pricing"),),
    points=10,
    cap=25,
    cap_days=7,
)
UNSUB = EngagementRule(
    id=2, model_id=9, event_type="email_unsubscribed", points=-15, cap=20, cap_days=30
)
FORM = EngagementRule(id=3, model_id=9, event_type="form_submit", points=20)

_ids = iter(range(1, 10_000))


def ev(type_: str, days: float, contact: int = 100, **props: Any) -> EventSeen:
    return EventSeen(next(_ids), contact, type_, T0 + timedelta(days=days), props)


def pricing(days: float, contact: int = 100) -> EventSeen:
    return ev("page_view", days, contact, url="https://x.cn/pricing?plan=pro")


def points(awards: list[Any]) -> list[float]:
    return [a.points for a in awards]


def test_an_event_that_would_pass_the_cap_earns_what_is_left() -> None:
    got = award([PRICING], [pricing(0), pricing(1), pricing(2), pricing(3)], Earlier())
    assert points(got) == [10, 10, 5]  # the third earns 5 of its 10; the fourth nothing
    assert [a.rule.id for a in got] == [1, 1, 1]
    assert got[2].earned_at == T0 + timedelta(days=2)


def test_points_come_back_once_older_ones_leave_the_period() -> None:
    events = [pricing(0), pricing(1), pricing(2), pricing(6.9), pricing(7), pricing(8.5)]
    got = award([PRICING], events, Earlier())
    # day 7: the points of day 0 have left the 7 days (start < t), 10 is free again;
    # day 8.5: day 1's 10 left too, and of day 2's 5 still in, 25 − 15 = 10 are free
    assert points(got) == [10, 10, 5, 10, 10]
    assert [a.earned_at for a in got][-2:] == [T0 + timedelta(days=7), T0 + timedelta(days=8.5)]


def test_the_cap_counts_what_was_given_before() -> None:
    earlier = Earlier()
    earlier.add(PRICING.id, 100, T0 - timedelta(days=1), 20.0)
    earlier.add(PRICING.id, 100, T0 - timedelta(days=8), 10.0)  # outside the period
    earlier.add(PRICING.id, 200, T0, 25.0)  # someone else's
    got = award([PRICING], [pricing(0), pricing(0.5)], earlier)
    assert points(got) == [5]
    # what was awarded is added, so a later batch sees it
    assert earlier.within(PRICING, 100, T0 + timedelta(days=1)) == 25.0


def test_caps_are_per_contact() -> None:
    got = award([PRICING], [pricing(0, 1), pricing(0, 2), pricing(1, 1), pricing(1, 2)], Earlier())
    assert [(a.contact_id, a.points) for a in got] == [(1, 10), (2, 10), (1, 10), (2, 10)]


def test_a_negative_rule_is_capped_by_its_magnitude() -> None:
    events = [ev("email_unsubscribed", d) for d in (0, 1, 2, 31)]
    got = award([UNSUB], events, Earlier())
    assert points(got) == [-15, -5, -15]  # at most 20 taken away per 30 days


def test_events_are_processed_in_time_order() -> None:
    late, early, middle = pricing(2), pricing(0), pricing(1)
    got = award([PRICING], [late, early, middle], Earlier())
    assert [a.event_id for a in got] == [early.id, middle.id, late.id]
    assert points(got) == [10, 10, 5]  # the latest one is the one cut short


def test_same_moment_is_ordered_by_event_id() -> None:
    second, first = (
        EventSeen(8, 100, "page_view", T0, {"url": "/pricing"}),
        EventSeen(7, 100, "page_view", T0, {"url": "/pricing"}),
    )
    assert [a.event_id for a in award([PRICING], [second, first], Earlier())] == [7, 8]


def test_property_filters() -> None:
    deep = EngagementRule(
        id=4,
        model_id=9,
        event_type="content_view",
        where=(
            PropFilter(property="completion", op="gte", value=0.8),
            PropFilter(property="content_id", op="eq", value="42"),
        ),
        points=7,
    )
    events = [
        ev("content_view", 0, completion=0.9, content_id="42"),  # earns
        ev("content_view", 0, completion=0.5, content_id="42"),  # not read through
        ev("content_view", 0, completion=1, content_id="41"),  # another content
        ev("content_view", 0, completion="0.9", content_id="42"),  # text is no number
        ev("content_view", 0, content_id="42"),  # property missing
        ev("page_view", 0, completion=1, content_id="42"),  # another type
    ]
    got = award([deep], events, Earlier())
    assert [(a.event_id, a.points) for a in got] == [(events[0].id, 7)]
    assert not PRICING.matches("page_view", {"url": "https://x.cn/about"})
    assert PRICING.matches("page_view", {"url": "https://x.cn/pricing"})
    assert not PRICING.matches("form_submit", {"url": "https://x.cn/pricing"})


def test_one_event_earns_by_every_rule_it_matches() -> None:
    any_view = EngagementRule(id=5, model_id=8, event_type="page_view", points=1)
    got = award([PRICING, any_view, FORM], [pricing(0), ev("form_submit", 0)], Earlier())
    assert sorted((a.rule.id, a.points) for a in got) == [(1, 10), (3, 20), (5, 1)]


def test_uncapped_rules_keep_no_history() -> None:
    earlier = Earlier()
    got = award([FORM], [ev("form_submit", d) for d in range(5)], earlier)
    assert points(got) == [20] * 5
    assert not earlier.by
    assert not FORM.capped()
    assert PRICING.capped()
