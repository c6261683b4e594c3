"""The re-score job: after a model's rules change, every active contact of the workspace is
scored afresh in that model, a chunk per checkpoint (a killed worker resumes after the last
chunk it committed; until the job ends, contacts not reached yet keep their old score)."""

from __future__ import annotations

from sqlalchemy import select

from guanxi.db import transaction
from guanxi.kit.clock import utcnow
from guanxi.models import Contact, ScoreModel
from guanxi.scoring import engine
from guanxi.scoring.service import RESCORE, rescore_contacts
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
            rescore_contacts(session, ws, rules, ids, utcnow())
            after, done = ids[-1], done + len(ids)
            context.checkpoint({"after": after, "done": done, "version": version}, session)
