"""Routes for lifecycle: stages and their entry rules, moves, stage history and the funnel."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from guanxi.http.deps import DB, Actor, Listing, language_of
from guanxi.http.errors import errors
from guanxi.i18n import Language
from guanxi.kit.clock import utcnow
from guanxi.kit.page import Page
from guanxi.kit.schema import Id
from guanxi.lifecycle import service
from guanxi.lifecycle.rules import RULE
from guanxi.lifecycle.schemas import (
    FunnelOut,
    FunnelStage,
    MoveIn,
    MoveOut,
    OrderIn,
    ReapplyOut,
    StageChangeOut,
    StageIn,
    StageOut,
    StagePatch,
)
from guanxi.models import Job, LifecycleStage

router = APIRouter(tags=["lifecycle"])


def stage_out(stage: LifecycleStage, language: Language) -> StageOut:
    return StageOut(
        id=stage.id,
        key=stage.key,
        name=stage.name,
        label=service.label(stage, language),
        position=stage.position,
        kind=stage.kind,
        entry_rule=None if stage.entry_rule is None else RULE.validate_python(stage.entry_rule),
    )


def _stages(request: Request, rows: list[LifecycleStage]) -> Page[StageOut]:
    language = language_of(request)
    return Page(items=[stage_out(s, language) for s in rows], next_cursor=None)


@router.get("/lifecycle/stages", response_model=Page[StageOut])
def list_stages(request: Request, actor: Actor, session: DB) -> Page[StageOut]:
    """The workspace's stages in funnel order, then exit stages; the default funnel
    (subscriber → lead → mql → sal → sql → opportunity → customer → advocate, and churned)
    until you change it."""
    return _stages(request, service.list_stages(session, actor))


@router.post("/lifecycle/stages", response_model=StageOut, status_code=201, responses=errors(409))
def create_stage(data: StageIn, request: Request, actor: Actor, session: DB) -> StageOut:
    """Add a stage (409 ``already_exists`` for a key in use; 422 ``invalid_condition`` for an
    entry rule that names unknown fields, tags or models)."""
    stage = service.create_stage(
        session,
        actor,
        key=data.key,
        name=data.name,
        kind=data.kind,
        before=data.before,
        entry_rule=data.entry_rule,
    )
    return stage_out(stage, language_of(request))


@router.patch("/lifecycle/stages/{stage_id}", response_model=StageOut)
def update_stage(
    stage_id: Id, data: StagePatch, request: Request, actor: Actor, session: DB
) -> StageOut:
    """Rename a stage or set its entry rule (null: none). The rule applies to contacts as
    their events arrive; ``POST /lifecycle/reapply`` applies it to everyone now."""
    stage = service.update_stage(session, actor, stage_id, data.changes())
    return stage_out(stage, language_of(request))


@router.delete("/lifecycle/stages/{stage_id}", status_code=204, responses=errors(409))
def delete_stage(stage_id: Id, actor: Actor, session: DB) -> Response:
    """Remove a stage: 409 ``stage_in_use`` while contacts are in it (``details.contacts``),
    409 ``last_funnel_stage`` for the funnel's only stage. Its history stays."""
    service.delete_stage(session, actor, stage_id)
    return Response(status_code=204)


@router.put("/lifecycle/order", response_model=Page[StageOut])
def reorder(data: OrderIn, request: Request, actor: Actor, session: DB) -> Page[StageOut]:
    """Put the stages in this order (every key once; 422 ``invalid_stage_order`` otherwise).
    Funnel order decides which moves are forward and which backward."""
    return _stages(request, service.reorder(session, actor, data.keys))


def _reapply_out(job: Job) -> ReapplyOut:
    return ReapplyOut(
        id=job.id,
        status=job.status,
        moved=int(job.progress.get("moved", 0)),
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


@router.post("/lifecycle/reapply", response_model=ReapplyOut, status_code=202)
def reapply(actor: Actor, session: DB) -> ReapplyOut:
    """Apply the entry rules to every contact now, as a background job (after changing a rule:
    rules otherwise apply as each contact's events arrive). Follow it with
    ``GET /lifecycle/reapply/{job_id}``."""
    return _reapply_out(service.start_reapply(session, actor))


@router.get("/lifecycle/reapply/{job_id}", response_model=ReapplyOut)
def get_reapply(job_id: Id, actor: Actor, session: DB) -> ReapplyOut:
    return _reapply_out(service.get_reapply(session, actor, job_id))


@router.get("/lifecycle/funnel", response_model=FunnelOut)
def funnel(
    request: Request,
    actor: Actor,
    session: DB,
    since: Annotated[
        datetime | None, Query(description="Start of the period (default: 30 days ago).")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="End of the period, excluded (default: now).")
    ] = None,
) -> FunnelOut:
    """Per stage, among the contacts you may see: how many are in it now, how many entered it
    in [since, until), and of those how many reached a later funnel stage before ``until``
    (stage-to-stage conversion; a contact that skipped stages counts as converted)."""
    end = until or utcnow()
    start = since or end - timedelta(days=30)
    rows = service.funnel(session, actor, start, end)
    language = language_of(request)
    return FunnelOut(
        since=start,
        until=end,
        stages=[
            FunnelStage(
                key=r.stage.key,
                label=service.label(r.stage, language),
                kind=r.stage.kind,
                current=r.current,
                entered=r.entered,
                advanced=r.advanced,
                conversion=r.conversion,
            )
            for r in rows
        ],
    )


@router.post("/contacts/{contact_id}/stage", response_model=MoveOut)
def move(contact_id: Id, data: MoveIn, actor: Actor, session: DB) -> MoveOut:
    """Move a contact to a stage, forward or backward (a recycle to nurture, a win-back from
    churned: flagged ``backward``), with a note. Moving to the stage it is in changes nothing
    (``change`` is null); an unknown stage is 422 ``unknown_stage``."""
    contact, change = service.move(session, actor, contact_id, data.stage, data.note, utcnow())
    return MoveOut(
        stage=contact.stage or data.stage,
        change=None if change is None else StageChangeOut.model_validate(change),
    )


@router.get("/contacts/{contact_id}/stages", response_model=Page[StageChangeOut])
def history(contact_id: Id, actor: Actor, session: DB, listing: Listing) -> Page[StageChangeOut]:
    """The contact's stage history, newest first: from, to, when, why (rule, user, api,
    journey, import) and who."""
    rows, cursor = service.history(
        session, actor, contact_id, limit=listing.limit, cursor=listing.cursor
    )
    return Page(
        items=[StageChangeOut.model_validate(r.StageChange) for r in rows], next_cursor=cursor
    )
