"""The journey work of the worker: the runner (``run_due``, called in every loop of the worker
until nothing is due), the clock (scheduled and anniversary triggers), and the
``journey_batch`` job that enrols a segment or the contacts of a date, page by page.

A batch pages by contact id and checkpoints each page together with its enrolments, so a
killed worker's successor resumes after the last page written; and an enrolment is unique per
(journey, contact, rotation), so a page done twice enrols nobody twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guanxi.db import transaction
from guanxi.event import service as events
from guanxi.journey import enrolments, schedule
from guanxi.journey import graph as g
from guanxi.journey.versions import version_graph
from guanxi.kit.clock import utcnow
from guanxi.message.gate import zone
from guanxi.models import Contact, Journey, SegmentMember, Workspace
from guanxi.worker.jobs import JobContext, handler

PAGE = 1000


def _page(
    session: Session, journey: Journey, trigger: Any, run_at: datetime, after: int
) -> list[int]:
    ws = journey.workspace_id
    if isinstance(trigger, g.Scheduled):
        stmt = select(SegmentMember.contact_id).where(
            SegmentMember.workspace_id == ws,
            SegmentMember.segment_id == trigger.segment_id,
            SegmentMember.contact_id > after,
        )
        return list(session.scalars(stmt.order_by(SegmentMember.contact_id).limit(PAGE)))
    assert isinstance(trigger, g.Anniversary)
    workspace = session.get(Workspace, ws)
    tz = zone(None, workspace.timezone if workspace else "Asia/Shanghai")
    day = schedule.anniversary_day(trigger, run_at, tz)
    key = trigger.field.removeprefix("custom.")
    month_day = func.substr(Contact.custom[key].as_string(), 6, 5)
    wanted = [day, "02-29"] if day == "02-28" and not _leap(run_at.year) else [day]
    stmt = select(Contact.id).where(
        Contact.workspace_id == ws,
        Contact.status == "active",
        Contact.id > after,
        month_day.in_(wanted),
    )
    return list(session.scalars(stmt.order_by(Contact.id).limit(PAGE)))


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@handler("journey_batch")
def run_batch(context: JobContext) -> str:
    """Progress: ``after``, the last contact id of the last page enrolled."""
    after = int(context.progress.get("after", 0))
    run_at = datetime.fromisoformat(context.payload["run_at"])
    while True:
        with transaction(context.factory) as session:
            journey = session.get(
                Journey, (context.workspace_id, int(context.payload["journey_id"]))
            )
            if journey is None or journey.status != "active" or journey.version is None:
                return "done"
            graph = version_graph(session, journey.workspace_id, journey.id, journey.version)
            entry = g.entry_of(graph)
            if entry is None or not isinstance(entry.trigger, g.Scheduled | g.Anniversary):
                return "done"
            ids = _page(session, journey, entry.trigger, run_at, after)
            if not ids:
                return "done"
            now = utcnow()
            done = enrolments.enrol(session, journey, graph, ids, now, source="batch")
            events.store(session, journey.workspace_id, enrolments.entered(journey, done, now), now)
            after = ids[-1]
            if context.checkpoint({"after": after}, session):
                return "cancelled"
