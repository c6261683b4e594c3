"""The worker's timer task: contacts whose segment answer may change now that time has moved
(a window's oldest event left it, a score decayed past a threshold) are re-checked, a batch of
due timers at a time. On PostgreSQL due rows are taken ``FOR UPDATE SKIP LOCKED``, so several
workers share them; the entered/exited events go through the event store like any other."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from guanxi.event import service as events
from guanxi.models import SegmentTimer
from guanxi.segment import membership

BATCH = 1000
log = logging.getLogger("guanxi.segment")
RETRY = timedelta(hours=1)


def run_due(session: Session, now: datetime) -> None:
    """Re-check up to ``BATCH`` due (segment, contact) pairs (the scheduled task)."""
    stmt = (
        select(SegmentTimer.workspace_id, SegmentTimer.segment_id, SegmentTimer.contact_id)
        .where(SegmentTimer.due_at <= now)
        .order_by(SegmentTimer.due_at)
        .limit(BATCH)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    due = session.execute(stmt).all()
    by_workspace: dict[int, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    for ws, segment_id, contact_id in due:
        by_workspace[ws][segment_id].add(contact_id)
    for ws, pairs in by_workspace.items():
        try:
            with session.begin_nested():  # one workspace's failure stops no one else's timers
                _recheck(session, ws, pairs, now)
        except Exception:  # retried in an hour, not ahead of everyone else's every 10 s
            log.exception("segment timers failed", extra={"workspace_id": ws})
            session.execute(
                update(SegmentTimer)
                .where(SegmentTimer.workspace_id == ws, SegmentTimer.due_at <= now)
                .values(due_at=now + RETRY)
            )


def _recheck(session: Session, ws: int, pairs: dict[int, set[int]], now: datetime) -> None:
    for segment_id, contact_ids in pairs.items():  # refresh sets the next timers
        session.execute(
            delete(SegmentTimer).where(
                SegmentTimer.workspace_id == ws,
                SegmentTimer.segment_id == segment_id,
                SegmentTimer.contact_id.in_(sorted(contact_ids)),
            )
        )
    segments = membership.dynamic(session, ws)
    for segment_id, contact_ids in pairs.items():
        drafts = membership.refresh(
            session,
            ws,
            membership.with_dependents(segments, {segment_id}),
            contact_ids,
            "timer",
            now,
        )
        if drafts:
            events.store(session, ws, drafts, now)
