"""Scoring models and rules: a rule change re-scores everyone, as a job (``tasks.py``); a model
is deleted only while nothing names it. Reading scores is in ``scores.py``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.errors import Conflict, GuanxiError, InvalidValue, NotFound
from guanxi.i18n import N_
from guanxi.models import (
    ContactScore,
    Job,
    ScoreModel,
    ScorePoint,
    ScoreRule,
)
from guanxi.scoring import decay, engine
from guanxi.scoring.rules import Earlier, award
from guanxi.scoring.schemas import ModelIn, RuleIn
from guanxi.scoring.specs import spec_of
from guanxi.segment import conditions, references, timing
from guanxi.segment.service import InvalidCondition, checked, schema_for
from guanxi.worker import jobs

RESCORE = "rescore"


class InvalidScoring(GuanxiError):
    status = 422
    code = "invalid_scoring_rule"
    message = N_("The scoring model or rule cannot be used: {reason}")


class ModelInUse(Conflict):
    code = "scoring_model_in_use"
    message = N_("The scoring model is used by {name}: change that first.")


# -- models ----------------------------------------------------------------------------------


def list_models(session: Session, actor: Principal) -> Sequence[ScoreModel]:
    actor.require("scoring:read")
    return session.scalars(
        select(ScoreModel)
        .where(ScoreModel.workspace_id == actor.workspace_id)
        .order_by(ScoreModel.id)
    ).all()


def get_model(
    session: Session, actor: Principal, model_id: int, *, write: bool = False
) -> ScoreModel:
    actor.require("scoring:write" if write else "scoring:read")
    model = session.get(ScoreModel, (actor.workspace_id, model_id))
    if model is None:
        raise NotFound(resource=N_("Scoring model"))
    return model


def _weights(
    session: Session, actor: Principal, data: ModelIn, own: int | None
) -> dict[str, float]:
    for model_id in data.weights:
        part = session.get(ScoreModel, (actor.workspace_id, model_id))
        if part is None or model_id == own:
            raise NotFound(resource=N_("Scoring model"))
        if part.kind != "points":
            raise InvalidScoring(reason=N_("a combined model weighs points models only"))
    return {str(k): v for k, v in data.weights.items()}


def _day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def create_model(session: Session, actor: Principal, data: ModelIn, now: datetime) -> ScoreModel:
    actor.require("scoring:write")
    model = ScoreModel(
        workspace_id=actor.workspace_id,
        name=data.name,
        kind=data.kind,
        decay=data.decay,
        decay_days=data.decay_days,
        epoch=_day(now),
        weights=_weights(session, actor, data, None),
        grades=data.grades.model_dump(),
        rollup=data.rollup,
        rollup_n=data.rollup_n,
        enabled=data.enabled,
        created_at=now,
    )
    session.add(model)
    session.flush()
    return model


def update_model(
    session: Session, actor: Principal, model_id: int, data: ModelIn, now: datetime
) -> ScoreModel:
    model = get_model(session, actor, model_id, write=True)
    if data.kind != model.kind:
        raise InvalidScoring(reason=N_("a model stays points or combined"))
    weights = _weights(session, actor, data, model.id)
    model.name, model.weights, model.grades = data.name, weights, data.grades.model_dump()
    model.rollup, model.rollup_n = data.rollup, data.rollup_n
    if model.kind == "points" and (data.decay, data.decay_days) != (model.decay, model.decay_days):
        old = spec_of(model)
        model.decay, model.decay_days, model.epoch = data.decay, data.decay_days, _day(now)
        # every score keeps its value at this moment (anchored anew) until the re-score job
        # has replayed each contact's points under the new decay
        ratio = decay.factor(old, now) / decay.factor(spec_of(model), now)
        session.execute(
            update(ContactScore)
            .where(
                ContactScore.workspace_id == model.workspace_id, ContactScore.model_id == model.id
            )
            .values(engagement=ContactScore.engagement * ratio)
        )
        _changed(session, actor, model)
    elif data.enabled and not model.enabled and model.kind == "points":
        queue_rescore(session, model, actor.user_id)  # the events it missed while off
    model.enabled = data.enabled
    session.flush()
    return model


def _user_of(session: Session, workspace_id: int, model: ScoreModel) -> str | None:
    """The name of what would break without this model: a combined model weighing it, or a
    rule, segment or lifecycle stage whose condition reads its score or grade."""
    for other in session.scalars(select(ScoreModel).where(ScoreModel.workspace_id == workspace_id)):
        if str(model.id) in (other.weights or {}):
            return other.name
    # its own rules go with it
    return references.user_of(
        session, workspace_id, "model", model.id, besides=("score_rule", model.id)
    )


def delete_model(session: Session, actor: Principal, model_id: int) -> None:
    """Refused (409) while something names the model; its rules, points and scores go too."""
    model = get_model(session, actor, model_id, write=True)
    user = _user_of(session, actor.workspace_id, model)
    if user is not None:
        raise ModelInUse(name=user)
    ws = actor.workspace_id
    for table in (ScorePoint, ContactScore, ScoreRule):
        session.execute(delete(table).where(table.workspace_id == ws, table.model_id == model.id))
    session.delete(model)
    session.flush()


# -- rules -----------------------------------------------------------------------------------


def list_rules(session: Session, actor: Principal, model_id: int) -> Sequence[ScoreRule]:
    model = get_model(session, actor, model_id)
    return session.scalars(
        select(ScoreRule)
        .where(ScoreRule.workspace_id == actor.workspace_id, ScoreRule.model_id == model.id)
        .order_by(ScoreRule.id)
    ).all()


def check_rule(session: Session, workspace_id: int, data: RuleIn) -> None:
    if data.kind == "engagement":
        schema = schema_for(session, workspace_id)
        if data.event_type == "score_changed":
            raise InvalidScoring(reason=N_("scores do not earn points"))
        if schema.event_types is not None and data.event_type not in schema.event_types:
            raise InvalidScoring(reason=N_("unknown event type"))
    elif data.kind == "fit":
        schema = checked(session, workspace_id, data.condition)
        if timing.moves_with_time(data.condition, schema):
            # fit is what a contact is, re-checked when they change, not on a clock
            raise InvalidScoring(
                reason=N_("a fit rule cannot look at a moving window: use an engagement rule")
            )
    else:
        schema = schema_for(session, workspace_id)
        account = conditions.Schema(account_custom=schema.account_custom, subject="account")
        try:
            conditions.check(data.condition, account)
        except InvalidValue as exc:
            raise InvalidCondition(reason=exc.message) from exc


def _fill(rule: ScoreRule, data: RuleIn) -> None:
    rule.kind, rule.name, rule.event_type = data.kind, data.name, data.event_type
    rule.where = [f.model_dump(mode="json") for f in data.where]
    rule.condition = data.condition.model_dump(mode="json") if data.condition else None
    rule.points, rule.cap, rule.cap_days = data.points, data.cap, data.cap_days


def _changed(session: Session, actor: Principal, model: ScoreModel) -> None:
    """Rules changed: everyone is re-scored by a job."""
    model.version += 1
    queue_rescore(session, model, actor.user_id)


def queue_rescore(session: Session, model: ScoreModel, by: int | None) -> None:
    """Re-score everyone in ``model`` by a job (one waiting job per model is enough)."""
    waiting = session.scalar(
        select(func.count())
        .select_from(Job)
        .where(
            Job.workspace_id == model.workspace_id,
            Job.kind == RESCORE,
            Job.status == "pending",
            Job.payload["model_id"].as_string() == str(model.id),
        )
    )
    if not waiting:
        jobs.enqueue(session, model.workspace_id, RESCORE, {"model_id": str(model.id)}, by)


def create_rule(
    session: Session, actor: Principal, model_id: int, data: RuleIn, now: datetime
) -> ScoreRule:
    model = get_model(session, actor, model_id, write=True)
    if model.kind != "points":
        raise InvalidScoring(reason=N_("a combined model has no rules of its own"))
    check_rule(session, actor.workspace_id, data)
    rule = ScoreRule(workspace_id=actor.workspace_id, model_id=model.id, created_at=now)
    _fill(rule, data)
    session.add(rule)
    _changed(session, actor, model)
    session.flush()
    return rule


def get_rule(session: Session, actor: Principal, rule_id: int) -> tuple[ScoreRule, ScoreModel]:
    """A rule and its model, to change them (404 for another workspace's)."""
    rule = session.get(ScoreRule, (actor.workspace_id, rule_id))
    if rule is None:
        raise NotFound(resource=N_("Scoring rule"))
    return rule, get_model(session, actor, rule.model_id, write=True)


def update_rule(session: Session, actor: Principal, rule_id: int, data: RuleIn) -> ScoreRule:
    actor.require("scoring:write")
    rule, model = get_rule(session, actor, rule_id)
    check_rule(session, actor.workspace_id, data)
    _fill(rule, data)
    _changed(session, actor, model)
    session.flush()
    return rule


def delete_rule(session: Session, actor: Principal, rule_id: int) -> None:
    actor.require("scoring:write")
    rule, model = get_rule(session, actor, rule_id)
    session.execute(
        delete(ScorePoint).where(
            ScorePoint.workspace_id == actor.workspace_id, ScorePoint.rule_id == rule.id
        )
    )
    session.delete(rule)
    _changed(session, actor, model)
    session.flush()


# -- re-scoring ------------------------------------------------------------------------------


def rescore_contacts(
    session: Session,
    workspace_id: int,
    rules: engine.Rules,
    contact_ids: Sequence[int],
    now: datetime,
) -> None:
    """Score these contacts afresh in ``rules``' models from all their events (a rule change,
    a merge): the ledger and the materialised scores are rewritten."""
    ws, models = workspace_id, list(rules.models)
    if not models or not contact_ids:
        return
    for table in (ScorePoint, ContactScore):
        session.execute(
            delete(table).where(
                table.workspace_id == ws,
                table.model_id.in_(models),
                table.contact_id.in_(list(contact_ids)),
            )
        )
    seen = engine.events_of(session, ws, contact_ids, rules.engagement)
    awards = award(rules.engagement, seen, Earlier())
    engine.write_points(session, ws, awards)
    fit = engine.fits(session, ws, rules, contact_ids, now) if rules.has_fit else {}
    engine.apply(session, ws, rules, awards, fit, now)
    session.flush()
