"""The worker's scoring work.

The re-score job: after a model's rules change, every active contact of the workspace is scored
afresh in that model, a chunk per checkpoint (a killed worker resumes after the last chunk it
committed; until the job ends, contacts not reached yet keep their old score).

``rebase``, a daily task: a half-life model's anchored engagement (``guanxi.models.scoring``)
doubles with every half-life between the model's epoch and the moment the points were earned;
long before that could outgrow a float, the epoch moves forward by whole half-lives and every
anchor of the model is halved as many times, in one UPDATE — the scores stay what they were."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from guanxi.db import transaction
from guanxi.event import service as events
from guanxi.kit.clock import utcnow
from guanxi.lifecycle import rules as lifecycle
from guanxi.models import Contact, ContactScore, ScoreModel
from guanxi.scoring import engine
from guanxi.scoring.service import RESCORE, rescore_contacts
from guanxi.segment import membership
from guanxi.segment.conditions import GradeCond, ScoreCond, walk
from guanxi.worker.jobs import JobContext, handler

CHUNK = 500


@handler(RESCORE)
def rescore(context: JobContext) -> str:
    """Progress: ``after`` (the last contact id scored), ``done`` (how many) and ``version``
    (the model's when the job began: a rule changed later queues another job, so only this
    version is known to be everyone's when the job ends)."""
    ws, model_id = context.workspace_id, int(context.payload["model_id"])
    after = int(context.progress.get("after", 0))
    done = int(context.progress.get("done", 0))
    version = context.progress.get("version")
    while True:
        with transaction(context.factory) as session:
            model = session.get(ScoreModel, (ws, model_id))
            if model is None:
                return "done"  # deleted meanwhile: nothing left to score
            if version is None:
                version = model.version
            ids = list(
                session.scalars(
                    select(Contact.id)
                    .where(
                        Contact.workspace_id == ws, Contact.status == "active", Contact.id > after
                    )
                    .order_by(Contact.id)
                    .limit(CHUNK)
                )
            )
            if not ids:
                model.scored_version = max(model.scored_version, int(version))
                return "done"
            rules = engine.load_rules(session, ws, [model_id])
            now = utcnow()
            rescore_contacts(session, ws, rules, ids, now)
            _follow(session, model, ids, now)
            after, done = ids[-1], done + len(ids)
            context.checkpoint({"after": after, "done": done, "version": version}, session)


def _follow(session: Session, model: ScoreModel, ids: list[int], now: datetime) -> None:
    """What reads the model catches up for these contacts (no ``score_changed`` event: a
    rule change is not something each contact did): segments on its score or on a combined
    score over it, then lifecycle entry rules."""
    ws = model.workspace_id
    named = {str(model.id)} | {
        str(m.id)
        for m in session.scalars(select(ScoreModel).where(ScoreModel.workspace_id == ws))
        if str(model.id) in (m.weights or {})
    }
    segments = membership.dynamic(session, ws)
    reading = {
        s.id
        for s in segments
        if any(isinstance(n, ScoreCond | GradeCond) and n.model in named for n in walk(s.tree))
    }
    drafts = membership.refresh(
        session, ws, membership.with_dependents(segments, reading), ids, "rescore", now
    )
    drafts += lifecycle.advance(session, ws, ids, now)
    if drafts:
        events.store(session, ws, drafts, now)


REBASE_AFTER = 64  # half-lives since the epoch: anchors up to 2^64 times the points


def rebase(session: Session, now: datetime) -> None:
    for model in session.scalars(
        select(ScoreModel)
        .where(ScoreModel.decay == "half_life", ScoreModel.kind == "points")
        .with_for_update()
    ):
        half_life = timedelta(days=model.decay_days or 1)
        lives = int((now - model.epoch) / half_life)
        if lives < REBASE_AFTER:
            continue
        session.execute(
            update(ContactScore)
            .where(
                ContactScore.workspace_id == model.workspace_id,
                ContactScore.model_id == model.id,
            )
            .values(engagement=ContactScore.engagement * 2.0**-lives)
        )
        model.epoch = model.epoch + half_life * lives
