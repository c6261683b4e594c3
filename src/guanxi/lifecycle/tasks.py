"""The worker job that applies the entry rules to every contact (after a rule changed): the
contacts matching some rule, found in SQL batch by batch, each batch decided and written in
its own transaction with its checkpoint, so a worker taking over resumes after the last one."""

from __future__ import annotations

from guanxi.db import transaction
from guanxi.event import service as events
from guanxi.kit.clock import utcnow
from guanxi.lifecycle import rules
from guanxi.lifecycle.service import REAPPLY
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
