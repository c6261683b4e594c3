"""Triggers on a clock, on both databases: a segment enrolled at a set time (and again each day,
with the re-entry policy holding), and the yearly return of a custom date field at 09:00 in
the workspace's timezone; and the pure ``next_run`` they rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import FastAPI

import guanxi.journey.tasks  # noqa: F401  (registers the journey_batch job)
from guanxi.db import transaction
from guanxi.journey import graph as g
from guanxi.journey import schedule
from guanxi.kit.clock import utcnow
from guanxi.worker.jobs import run_one
from tests.factories import make_tenant
from tests.journey.test_runner import enrolments, journey, node
from tests.message.support import contact

SHANGHAI = ZoneInfo("Asia/Shanghai")


def clock(app: FastAPI, now: datetime) -> None:
    """The worker's clock task at ``now``, then every job it started."""
    with transaction(app.state.sessionmaker) as s:
        schedule.run_clock(s, now)
    while run_one(app.state.sessionmaker):
        pass


def test_a_scheduled_batch_enrols_a_segment_at_its_time_and_each_day(app: FastAPI) -> None:
    tenant = make_tenant(app)
    people = [contact(tenant, name=f"批{i}") for i in range(3)]
    segment = tenant.call("POST", "/segments", json={"name": "批量", "kind": "static"})["id"]
    tenant.call("POST", f"/segments/{segment}/members", json={"contact_ids": people[:2]})
    at = utcnow() + timedelta(hours=1)
    graph = {
        "nodes": [
            node(
                "start",
                "entry",
                trigger={
                    "type": "scheduled",
                    "segment_id": int(segment),
                    "at": at.isoformat(),
                    "repeat": "daily",
                },
            )
        ],
        "edges": [],
        "settings": {"reentry": {"policy": "always"}},
    }
    jid = journey(tenant, graph)
    shown = tenant.call("GET", f"/journeys/{jid}")
    assert datetime.fromisoformat(shown["next_run_at"]) == at

    clock(app, at - timedelta(minutes=1))  # not yet
    assert enrolments(tenant, jid) == []
    clock(app, at)
    assert sorted(e["contact_id"] for e in enrolments(tenant, jid)) == sorted(people[:2])
    assert {e["source"] for e in enrolments(tenant, jid)} == {"batch"}
    assert datetime.fromisoformat(
        tenant.call("GET", f"/journeys/{jid}")["next_run_at"]
    ) == at + timedelta(days=1)
    clock(app, at + timedelta(hours=2))  # once a day: nothing new
    assert len(enrolments(tenant, jid)) == 2

    tenant.call("POST", f"/segments/{segment}/members", json={"contact_ids": [people[2]]})
    clock(app, at + timedelta(days=1))
    rotations = sorted((e["contact_id"], e["rotation"]) for e in enrolments(tenant, jid))
    assert rotations == sorted(
        [(people[0], 1), (people[0], 2), (people[1], 1), (people[1], 2), (people[2], 1)]
    )


def test_an_anniversary_enrols_the_contacts_of_the_day_at_nine(app: FastAPI) -> None:
    tenant = make_tenant(app)
    tenant.call(
        "POST",
        "/custom-fields",
        json={"object": "contact", "key": "signed", "label": "签约日", "type": "date"},
    )
    graph = {
        "nodes": [
            node(
                "start",
                "entry",
                trigger={
                    "type": "anniversary",
                    "field": "custom.signed",
                    "days_before": 3,
                    "time": "09:00",
                },
            )
        ],
        "edges": [],
    }
    jid = journey(tenant, graph)
    nine = datetime.fromisoformat(tenant.call("GET", f"/journeys/{jid}")["next_run_at"])
    local = nine.astimezone(SHANGHAI)
    assert (local.hour, local.minute) == (9, 0)
    assert utcnow() < nine <= utcnow() + timedelta(days=1)
    due = local.date() + timedelta(days=3)  # three days before the anniversary
    yes = contact(
        tenant, name="周年", custom={"signed": due.replace(year=due.year - 2).isoformat()}
    )
    contact(
        tenant,
        name="不是今天",
        custom={"signed": (due + timedelta(days=1)).replace(year=2020).isoformat()},
    )
    contact(tenant, name="无日期")
    clock(app, nine)
    assert [e["contact_id"] for e in enrolments(tenant, jid)] == [yes]


def test_next_run() -> None:
    at = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    once = g.Scheduled(segment_id=1, at=at, repeat="once")
    weekly = g.Scheduled(segment_id=1, at=at, repeat="weekly")
    after = at + timedelta(days=1)
    assert schedule.next_run(once, SHANGHAI, after) is None
    assert schedule.next_run(once, SHANGHAI, after, first=True) == at
    assert schedule.next_run(weekly, SHANGHAI, after) == at + timedelta(days=7)
    yearly = g.Anniversary(field="custom.signed", time="09:00")
    assert schedule.next_run(yearly, SHANGHAI, at) == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    assert schedule.anniversary_day(yearly, at, SHANGHAI) == "11-23"


def test_a_daily_schedule_keeps_its_wall_clock_time_across_daylight_saving() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    at = datetime(2026, 3, 27, 9, 0, tzinfo=berlin).astimezone(UTC)  # Friday, winter time
    daily = g.Scheduled(segment_id=1, at=at, repeat="daily")
    after_change = schedule.next_run(daily, berlin, datetime(2026, 3, 29, 12, 0, tzinfo=UTC))
    assert after_change is not None
    assert after_change.astimezone(berlin).hour == 9  # 09:00 summer time, not 10:00
    assert after_change == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
