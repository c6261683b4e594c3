"""Scoring models and rules (a rule change re-scores everyone, as a job), and reading scores:
a contact's in every model, its points ledger, an account's roll-up, and the editor's "what
would this contact score" preview."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from guanxi.account import service as accounts
from guanxi.auth.principal import Principal
from guanxi.contact import service as contacts
from guanxi.errors import Conflict, GuanxiError, InvalidValue, NotFound
from guanxi.i18n import N_
from guanxi.kit.pagination import SortSpec, paginate
from guanxi.models import (
    ContactAccount,
    ContactScore,
    Job,
    ScoreModel,
    ScorePoint,
    ScoreRule,
)
from guanxi.scoring import decay, engine
from guanxi.scoring.rules import Earlier, EngagementRule, award
from guanxi.scoring.schemas import ModelIn, PreviewIn, RuleIn
from guanxi.scoring.specs import spec_of, specs
from guanxi.segment import conditions, profiles
from guanxi.segment.service import InvalidCondition, checked, schema_for
from guanxi.worker import jobs

RESCORE = "rescore"


class InvalidScoring(GuanxiError):
    status = 422
    code = "invalid_scoring_rule"
    message = N_("The scoring model or rule cannot be used: {reason}")


class ModelInUse(Conflict):
    code = "scoring_model_in_use"
    message = N_("The scoring model is part of the combined model {name}.")


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
    rescore = (data.decay, data.decay_days, data.enabled) != (
        model.decay,
        model.decay_days,
        model.enabled,
    )
    model.name, model.weights, model.grades = data.name, weights, data.grades.model_dump()
    model.rollup, model.rollup_n = data.rollup, data.rollup_n
    if rescore and model.kind == "points":
        model.decay, model.decay_days, model.enabled = data.decay, data.decay_days, data.enabled
        model.epoch = _day(now)  # the re-score writes every anchor afresh
        _changed(session, actor, model)
    else:
        model.enabled = data.enabled
    session.flush()
    return model


def delete_model(session: Session, actor: Principal, model_id: int) -> None:
    model = get_model(session, actor, model_id, write=True)
    for other in list_models(session, actor):
        if str(model.id) in (other.weights or {}):
            raise ModelInUse(name=other.name)
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


def _check_rule(session: Session, workspace_id: int, data: RuleIn) -> None:
    if data.kind == "engagement":
        schema = schema_for(session, workspace_id)
        if data.event_type == "score_changed":
            raise InvalidScoring(reason=N_("scores do not earn points"))
        if schema.event_types is not None and data.event_type not in schema.event_types:
            raise InvalidScoring(reason=N_("unknown event type"))
    elif data.kind == "fit":
        checked(session, workspace_id, data.condition)
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
    """Rules changed: everyone is re-scored by a job (one waiting job per model is enough)."""
    model.version += 1
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
        jobs.enqueue(
            session, model.workspace_id, RESCORE, {"model_id": str(model.id)}, actor.user_id
        )


def create_rule(
    session: Session, actor: Principal, model_id: int, data: RuleIn, now: datetime
) -> ScoreRule:
    model = get_model(session, actor, model_id, write=True)
    if model.kind != "points":
        raise InvalidScoring(reason=N_("a combined model has no rules of its own"))
    _check_rule(session, actor.workspace_id, data)
    rule = ScoreRule(workspace_id=actor.workspace_id, model_id=model.id, created_at=now)
    _fill(rule, data)
    session.add(rule)
    _changed(session, actor, model)
    session.flush()
    return rule


def _rule(session: Session, actor: Principal, rule_id: int) -> tuple[ScoreRule, ScoreModel]:
    rule = session.get(ScoreRule, (actor.workspace_id, rule_id))
    if rule is None:
        raise NotFound(resource=N_("Scoring rule"))
    return rule, get_model(session, actor, rule.model_id, write=True)


def update_rule(session: Session, actor: Principal, rule_id: int, data: RuleIn) -> ScoreRule:
    actor.require("scoring:write")
    rule, model = _rule(session, actor, rule_id)
    _check_rule(session, actor.workspace_id, data)
    _fill(rule, data)
    _changed(session, actor, model)
    session.flush()
    return rule


def delete_rule(session: Session, actor: Principal, rule_id: int) -> None:
    actor.require("scoring:write")
    rule, model = _rule(session, actor, rule_id)
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


# -- reading ---------------------------------------------------------------------------------


def _score_out(
    model: ScoreModel, all_specs: dict[str, decay.ScoreSpec], facts: Any, now: datetime
) -> dict[str, Any]:
    key = str(model.id)
    fit = decay.part(key, "fit", all_specs, facts, now)
    return {
        "model_id": model.id,
        "name": model.name,
        "score": round(decay.part(key, "score", all_specs, facts, now), 2),
        "engagement": round(decay.part(key, "engagement", all_specs, facts, now), 2),
        "fit": round(fit, 2),
        "grade": decay.grade(all_specs[key], fit),
    }


def contact_scores(
    session: Session, actor: Principal, contact_id: int, now: datetime
) -> list[dict[str, Any]]:
    contact = contacts.get(session, actor, contact_id)
    all_specs = specs(session, actor.workspace_id)
    schema = conditions.Schema(score_models=all_specs)
    facts = profiles.load_scores(session, actor.workspace_id, [contact.id], schema, now)
    return [
        _score_out(m, all_specs, facts.get(contact.id, {}), now)
        for m in list_models(session, actor)
    ]


POINT_SORT = SortSpec(
    fields={"earned_at": ScorePoint.earned_at}, tiebreak=ScorePoint.id, default="-earned_at"
)


def ledger(
    session: Session,
    actor: Principal,
    contact_id: int,
    model_id: int,
    now: datetime,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The contact's points in a points model, newest first, with their worth now."""
    contact = contacts.get(session, actor, contact_id)
    model = get_model(session, actor, model_id)
    spec = spec_of(model)
    stmt = (
        select(ScorePoint, ScoreRule.name)
        .outerjoin(
            ScoreRule,
            (ScoreRule.workspace_id == ScorePoint.workspace_id)
            & (ScoreRule.id == ScorePoint.rule_id),
        )
        .where(
            ScorePoint.workspace_id == actor.workspace_id,
            ScorePoint.contact_id == contact.id,
            ScorePoint.model_id == model.id,
        )
    )
    rows, next_cursor = paginate(session, stmt, POINT_SORT, sort=None, limit=limit, cursor=cursor)
    out = []
    for row in rows:
        point, rule_name = tuple(row)[:2]
        worth = decay.worth(spec, point.points, point.earned_at, now)
        out.append(
            {
                "rule_id": point.rule_id,
                "rule": rule_name,
                "event_id": point.event_id,
                "points": point.points,
                "worth_now": round(worth, 2),
                "earned_at": point.earned_at,
            }
        )
    return out, next_cursor


def account_scores(
    session: Session, actor: Principal, account_id: int, now: datetime
) -> list[dict[str, Any]]:
    """An account's score in each model: its contacts' scores rolled up (sum, max or the best
    N) plus the points of the model's account fit rules it matches."""
    account = accounts.get(session, actor, account_id)
    ws = actor.workspace_id
    members = list(
        session.scalars(
            select(ContactAccount.contact_id).where(
                ContactAccount.workspace_id == ws, ContactAccount.account_id == account.id
            )
        )
    )
    all_specs = specs(session, ws)
    schema = conditions.Schema(score_models=all_specs)
    facts = profiles.load_scores(session, ws, members, schema, now)
    fields = profiles.account_fields(account)
    account_schema = conditions.Schema(
        account_custom=schema_for(session, ws).account_custom, subject="account"
    )
    fit_rules = session.scalars(
        select(ScoreRule).where(ScoreRule.workspace_id == ws, ScoreRule.kind == "account_fit")
    ).all()
    out = []
    for model in list_models(session, actor):
        key = str(model.id)
        scores = sorted(
            (decay.part(key, "score", all_specs, facts.get(c, {}), now) for c in members),
            reverse=True,
        )
        if model.rollup == "max":
            rolled = scores[0] if scores else 0.0
        else:
            rolled = sum(scores[: model.rollup_n] if model.rollup == "top_n" else scores)
        fit = sum(
            r.points
            for r in fit_rules
            if r.model_id == model.id
            and conditions.evaluate(
                engine.CONDITION.validate_python(r.condition),
                conditions.Profile(fields),
                account_schema,
                now,
            )
        )
        out.append(
            {
                "model_id": model.id,
                "name": model.name,
                "score": round(rolled + fit, 2),
                "contacts": round(rolled, 2),
                "fit": round(fit, 2),
                "grade": decay.grade(all_specs[key], fit),
            }
        )
    return out


def preview(
    session: Session, actor: Principal, model_id: int, data: PreviewIn, now: datetime
) -> dict[str, Any]:
    """What the contact would score in this model under ``data.rules`` (or the saved rules):
    its events replayed in memory, nothing written."""
    model = get_model(session, actor, model_id)
    if model.kind != "points":
        raise InvalidScoring(reason=N_("a combined model has no rules of its own"))
    contact = contacts.get(session, actor, data.contact_id)
    ws = actor.workspace_id
    if data.rules is None:
        saved = list_rules(session, actor, model.id)
        drafts = [
            RuleIn.model_validate(
                {
                    "kind": r.kind,
                    "name": r.name,
                    "event_type": r.event_type,
                    "where": r.where or [],
                    "condition": r.condition,
                    "points": r.points,
                    "cap": r.cap,
                    "cap_days": r.cap_days,
                }
            )
            for r in saved
        ]
    else:
        drafts = data.rules
        for draft in drafts:
            _check_rule(session, ws, draft)
    rules = engine.Rules({model.id: model}, [], {model.id: []})
    for i, d in enumerate(drafts, start=1):
        if d.kind == "engagement":
            rules.engagement.append(
                EngagementRule(
                    id=i,
                    model_id=model.id,
                    event_type=d.event_type or "",
                    where=tuple(d.where),
                    points=d.points,
                    cap=d.cap,
                    cap_days=d.cap_days,
                )
            )
        elif d.kind == "fit":
            rules.fit[model.id].append((d.condition, d.points))
    seen = engine.events_of(session, ws, [contact.id], rules.engagement)
    awards = award(rules.engagement, seen, Earlier())
    spec = spec_of(model)
    fit = engine.fits(session, ws, rules, [contact.id], now).get((contact.id, model.id), 0.0)
    fact = decay.ScoreFact(
        sum(decay.anchor(spec, a.points, a.earned_at) for a in awards),
        fit,
        tuple((a.earned_at, a.points) for a in awards),
    )
    engagement = decay.engagement(spec, fact, now)
    names = {i: d.name for i, d in enumerate(drafts, start=1)}
    return {
        "score": round(engagement + fit, 2),
        "engagement": round(engagement, 2),
        "fit": round(fit, 2),
        "grade": decay.grade(spec, fit),
        "points": [
            {
                "rule_id": a.rule.id,
                "rule": names[a.rule.id],
                "event_id": a.event_id,
                "points": a.points,
                "worth_now": round(decay.worth(spec, a.points, a.earned_at, now), 2),
                "earned_at": a.earned_at,
            }
            for a in sorted(awards, key=lambda a: a.earned_at, reverse=True)
        ],
    }
