"""Reading scores: a contact's in every model, its points ledger, an account's roll-up with the
account fit rules, and the editor's "what would this contact score" preview (nothing written)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guanxi.account import service as accounts
from guanxi.auth.principal import Principal
from guanxi.contact import service as contacts
from guanxi.i18n import N_
from guanxi.kit.pagination import SortSpec, paginate
from guanxi.models import ContactAccount, ScoreModel, ScorePoint, ScoreRule
from guanxi.scoring import decay, engine
from guanxi.scoring.rules import Earlier, EngagementRule, award
from guanxi.scoring.schemas import PreviewIn, RuleIn
from guanxi.scoring.service import InvalidScoring, check_rule, get_model, list_models, list_rules
from guanxi.scoring.specs import spec_of, specs
from guanxi.segment import conditions, profiles
from guanxi.segment.service import schema_for


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
            check_rule(session, ws, draft)
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
