"""After an import: what events would have set off, done in bulk. An import writes contacts
without one event per row (that would cost the import its speed), so when it has finished the
workspace's derived state catches up set-wise: dynamic segments are rebuilt,
models with fit rules re-score everyone, and lifecycle entry rules are applied again — each as
its own job (a small workspace's segments are rebuilt at once)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guanxi.lifecycle.service import REAPPLY
from guanxi.models import Job, LifecycleStage, ScoreModel, ScoreRule, Segment
from guanxi.scoring.service import queue_rescore
from guanxi.segment import build, membership
from guanxi.worker import jobs


def start(session: Session, workspace_id: int, by: int | None, now: datetime) -> None:
    ws = workspace_id
    for live in membership.dynamic(session, ws):
        if not live.refers:  # every segment may hold new people ("never ordered"); those
            segment = session.get(Segment, (ws, live.id))  # naming others follow them
            assert segment is not None
            build.start(session, segment, "import", by, now)
    fitted = session.scalars(
        select(ScoreModel).where(
            ScoreModel.workspace_id == ws,
            ScoreModel.id.in_(
                select(ScoreRule.model_id).where(
                    ScoreRule.workspace_id == ws, ScoreRule.kind == "fit"
                )
            ),
        )
    )
    for model in fitted:
        queue_rescore(session, model, by)
    ruled = session.scalar(
        select(func.count())
        .select_from(LifecycleStage)
        .where(LifecycleStage.workspace_id == ws, LifecycleStage.entry_rule.is_not(None))
    )
    waiting = session.scalar(
        select(func.count())
        .select_from(Job)
        .where(Job.workspace_id == ws, Job.kind == REAPPLY, Job.status == "pending")
    )
    if ruled and not waiting:
        jobs.enqueue(session, ws, REAPPLY, {}, by)
