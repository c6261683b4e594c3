"""The worker job that applies the entry rules to every contact (after a rule changed): the
contacts matching some rule, found in SQL batch by batch, each batch decided and written in
its own transaction with its checkpoint, so a worker taking over resumes after the last one.

``daily``: entry rules that look at a moving window ("no order in 365 days" → churned) can come
true with no event at all, so every day the workspaces that have such a rule re-apply them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from guanxi.db import transaction
from guanxi.event import service as events
from guanxi.kit.clock import utcnow
from guanxi.lifecycle import rules
from guanxi.lifecycle.rules import RULE
from guanxi.lifecycle.service import REAPPLY
from guanxi.models import Job, LifecycleStage
from guanxi.segment import timing
from guanxi.segment.references import usable
from guanxi.segment.service import schema_for
from guanxi.worker import jobs
from guanxi.worker.jobs import JobContext, handler

BATCH = 500


@handler(REAPPLY)
def reapply(context: JobContext) -> str:
    after = int(context.progress.get("after", 0))
    moved = int(context.progress.get("moved", 0))
    while True:
        with transaction(context.factory) as session:
            now = utcnow()
            ids = rules.candidates(session, context.workspace_id, after, BATCH, now)
            if ids:
                drafts = rules.advance(session, context.workspace_id, ids, now)
                events.store(session, context.workspace_id, drafts, now)
                after, moved = ids[-1], moved + len(drafts)
            cancel = context.checkpoint({"after": str(after), "moved": moved}, session)
        if cancel:
            return "cancelled"
        if len(ids) < BATCH:
            return "done"


def daily(session: Session, now: datetime) -> None:
    """Queue a re-apply for each workspace with an entry rule that moves with time."""
    waiting = set(
        session.scalars(
            select(Job.workspace_id).where(Job.kind == REAPPLY, Job.status == "pending")
        )
    )
    ruled = session.execute(
        select(LifecycleStage.workspace_id, LifecycleStage.entry_rule).where(
            LifecycleStage.entry_rule.is_not(None)
        )
    ).all()
    for workspace_id in sorted({ws for ws, t in ruled if t is not None} - waiting):
        schema = schema_for(session, workspace_id)  # (a cleared rule may be stored as JSON null)
        trees = [RULE.validate_python(t) for ws, t in ruled if ws == workspace_id and t is not None]
        if any(timing.moves_with_time(t, schema) for t in trees if usable(t, schema)):
            jobs.enqueue(session, workspace_id, REAPPLY, {}, None)
