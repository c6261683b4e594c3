"""Triggers on a clock: a segment's members enrolled at a set time (once, daily or weekly), and
the yearly return of a date field (a birthday, a signing date). ``next_run`` is pure; the
worker's ``journey_clock`` task starts a ``journey_batch`` job for each journey that is due and
moves its ``next_run_at`` on, in one transaction, so a run is started exactly once.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from guanxi.journey import graph as g
from guanxi.message.gate import zone
from guanxi.models import Journey, Workspace
from guanxi.worker import jobs

TRIGGER: TypeAdapter[Any] = TypeAdapter(g.Trigger)
STEP = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}


def next_run(trigger: Any, tz: ZoneInfo, after: datetime, first: bool = False) -> datetime | None:
    """When the trigger next enrols, after ``after`` (``first``: on publishing, when a one-off
    time already passed still counts: it runs at once)."""
    if isinstance(trigger, g.Scheduled):
        at = trigger.at
        if trigger.repeat == "once":
            return at if first or at > after else None
        # every day or week at the same wall-clock time in the workspace's zone, across DST
        local, days = at.astimezone(tz), STEP[trigger.repeat].days
        n = max(0, (after - at).days // days - 1)
        while True:
            day = local.date() + timedelta(days=n * days)
            moment = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=tz)
            if moment > after:
                return moment.astimezone(at.tzinfo)
            n += 1
    if isinstance(trigger, g.Anniversary):
        hours, minutes = (int(p) for p in trigger.time.split(":"))
        local = after.astimezone(tz)
        moment = datetime.combine(local.date(), time(hours, minutes), tzinfo=tz)
        if moment <= local:
            moment = datetime.combine(
                local.date() + timedelta(days=1), time(hours, minutes), tzinfo=tz
            )
        return moment.astimezone(after.tzinfo)
    return None


def anniversary_day(trigger: g.Anniversary, run_at: datetime, tz: ZoneInfo) -> str:
    """The month and day (``MM-DD``) whose contacts a run at ``run_at`` enrols: ``days_before``
    the date itself. 29 February is greeted on 28 February in other years."""
    target: date = run_at.astimezone(tz).date() + timedelta(days=trigger.days_before)
    return f"{target.month:02d}-{target.day:02d}"


def run_clock(session: Session, now: datetime) -> None:
    """Start the batch of every journey whose clock trigger is due, and set its next time."""
    due = session.scalars(
        select(Journey)
        .where(Journey.status == "active", Journey.next_run_at <= now)
        .with_for_update(skip_locked=True)
    ).all()
    for journey in due:
        trigger = TRIGGER.validate_python(journey.trigger)
        assert journey.next_run_at is not None
        workspace = session.get(Workspace, journey.workspace_id)
        tz = zone(None, workspace.timezone if workspace else "Asia/Shanghai")
        jobs.enqueue(
            session,
            journey.workspace_id,
            "journey_batch",
            {
                "journey_id": str(journey.id),
                "version": journey.version,
                "run_at": journey.next_run_at.isoformat(),
            },
            created_by=None,
        )
        journey.next_run_at = next_run(trigger, tz, max(now, journey.next_run_at))
    session.flush()
