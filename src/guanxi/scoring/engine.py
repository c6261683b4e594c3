"""Scoring on the event pipeline, and the writes live scoring and re-scoring share.

``react`` (second reactor, after tag rules): the batch's events earn points by the engagement
rules of every enabled points model — set-wise, caps included — written to the ledger and
added (anchored) to the contacts' materialised scores; the fit of every contact in the batch is
recomputed from the fit rules (their profile may have changed: a form, a tag); each score that
changed is a ``score_changed`` event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from guanxi.db import bulk_insert, in_list, upsert_rows
from guanxi.event.records import Draft, Stored
from guanxi.kit import batch_memo
from guanxi.kit.ids import new_ids
from guanxi.models import ContactScore, Event, ScoreModel, ScorePoint, ScoreRule
from guanxi.scoring import decay
from guanxi.scoring.rules import (
    Award,
    Earlier,
    EngagementRule,
    EventSeen,
    adjustment_rule,
    award,
)
from guanxi.scoring.specs import spec_of, specs
from guanxi.segment import conditions, profiles
from guanxi.segment.conditions import PropFilter
from guanxi.segment.references import usable
from guanxi.segment.service import schema_for

CONDITION: TypeAdapter[Any] = TypeAdapter(conditions.Condition)
FILTERS: TypeAdapter[tuple[PropFilter, ...]] = TypeAdapter(tuple[PropFilter, ...])


@dataclass
class Rules:
    """A workspace's enabled points models and their rules, parsed."""

    models: dict[int, ScoreModel]
    engagement: list[EngagementRule]
    fit: dict[int, list[tuple[Any, float]]]  # model → (condition, points)

    @property
    def has_fit(self) -> bool:
        return any(self.fit.values())


def engagement_rule(rule: ScoreRule) -> EngagementRule:
    return EngagementRule(
        id=rule.id,
        model_id=rule.model_id,
        event_type=rule.event_type or "",
        where=FILTERS.validate_python(rule.where or []),
        points=rule.points,
        cap=rule.cap,
        cap_days=rule.cap_days,
    )


def load_rules(
    session: Session, workspace_id: int, model_ids: Iterable[int] | None = None
) -> Rules:
    if model_ids is None:
        return batch_memo.memo(
            session, ("score_rules", workspace_id), lambda: _read_rules(session, workspace_id, None)
        )
    return _read_rules(session, workspace_id, model_ids)


def _read_rules(session: Session, workspace_id: int, model_ids: Iterable[int] | None) -> Rules:
    stmt = select(ScoreModel).where(
        ScoreModel.workspace_id == workspace_id,
        ScoreModel.kind == "points",
        ScoreModel.enabled.is_(True),
    )
    if model_ids is not None:
        stmt = stmt.where(ScoreModel.id.in_(list(model_ids)))
    if session.get_bind().dialect.name == "postgresql":
        # FOR SHARE: the epoch the anchors are computed with cannot move under this batch
        # (``rebase`` takes these rows FOR UPDATE)
        stmt = stmt.with_for_update(read=True)
    models = {m.id: m for m in session.scalars(stmt)}
    rules = Rules(models, [adjustment_rule(m) for m in models], defaultdict(list))
    if not models:
        return rules
    for rule in session.scalars(
        select(ScoreRule)
        .where(ScoreRule.workspace_id == workspace_id, ScoreRule.model_id.in_(list(models)))
        .order_by(ScoreRule.id)
    ):
        if rule.kind == "engagement":
            rules.engagement.append(engagement_rule(rule))
        elif rule.kind == "fit" and rule.condition is not None:
            tree = CONDITION.validate_python(rule.condition)
            if usable(tree, schema_for(session, workspace_id)):  # else it names a field gone
                rules.fit[rule.model_id].append((tree, rule.points))
    return rules


def earlier_points(
    session: Session,
    workspace_id: int,
    rules: Sequence[EngagementRule],
    contact_ids: Iterable[int],
    since: datetime,
) -> Earlier:
    """What the capped rules gave these contacts from ``since`` minus the widest cap period."""
    earlier = Earlier()
    capped = [r for r in rules if r.capped()]
    if not capped:
        return earlier
    widest = max(r.cap_days or 0 for r in capped)
    for rule_id, contact_id, at, points in session.execute(
        select(ScorePoint.rule_id, ScorePoint.contact_id, ScorePoint.earned_at, ScorePoint.points)
        .where(
            ScorePoint.workspace_id == workspace_id,
            ScorePoint.rule_id.in_([r.id for r in capped]),
            in_list(session, ScorePoint.contact_id, sorted(set(contact_ids))),
            ScorePoint.earned_at > since - timedelta(days=widest),
        )
        .order_by(ScorePoint.earned_at)
    ):
        earlier.add(rule_id, contact_id, at, points)
    return earlier


def fits(
    session: Session, workspace_id: int, rules: Rules, contact_ids: Iterable[int], now: datetime
) -> dict[tuple[int, int], float]:
    """(contact, model) → the points of the fit rules the contact matches now."""
    trees = [tree for model in rules.fit.values() for tree, _ in model]
    if not trees:
        return {}
    schema = schema_for(session, workspace_id)
    loaded = profiles.load(
        session, workspace_id, contact_ids, trees, schema, now, fields=profiles.reads_fields(trees)
    )
    return {
        (contact_id, model_id): sum(
            points for tree, points in model_rules if conditions.evaluate(tree, p, schema, now)
        )
        for contact_id, p in loaded.items()
        for model_id, model_rules in rules.fit.items()
    }


def events_of(
    session: Session, workspace_id: int, contact_ids: Sequence[int], rules: Sequence[EngagementRule]
) -> list[EventSeen]:
    """Every event of these contacts that ``rules`` could score, to replay."""
    types = sorted({r.event_type for r in rules})
    if not types or not contact_ids:
        return []
    return [
        EventSeen(*row)
        for row in session.execute(
            select(
                Event.id, Event.contact_id, Event.type, Event.occurred_at, Event.properties
            ).where(
                Event.workspace_id == workspace_id,
                in_list(session, Event.contact_id, list(contact_ids)),
                Event.type.in_(types),
            )
        )
    ]


def write_points(session: Session, workspace_id: int, awards: Sequence[Award]) -> None:
    ids = new_ids(len(awards))
    bulk_insert(
        session,
        ScorePoint,
        [
            {
                "workspace_id": workspace_id,
                "id": i,
                "model_id": a.rule.model_id,
                "rule_id": a.rule.id,
                "contact_id": a.contact_id,
                "event_id": a.event_id,
                "points": a.points,
                "earned_at": a.earned_at,
            }
            for i, a in zip(ids, awards, strict=True)
        ],
    )


def apply(
    session: Session,
    workspace_id: int,
    rules: Rules,
    awards: Sequence[Award],
    fit: dict[tuple[int, int], float],
    now: datetime,
) -> set[tuple[int, int]]:
    """Add the awards (anchored) to the contacts' scores and set their fits; returns the
    (contact, model) pairs whose score changed. The addition happens in the database (an
    upsert adding to what is there), so two batches scoring one contact at once both count."""
    delta: dict[tuple[int, int], float] = defaultdict(float)
    for a in awards:
        spec = spec_of(rules.models[a.rule.model_id])
        delta[a.contact_id, a.rule.model_id] += decay.anchor(spec, a.points, a.earned_at)
    touched = set(delta) | set(fit)
    if not touched:
        return set()
    had = {
        (contact_id, model_id): old_fit
        for contact_id, model_id, old_fit in session.execute(
            select(ContactScore.contact_id, ContactScore.model_id, ContactScore.fit).where(
                ContactScore.workspace_id == workspace_id,
                ContactScore.model_id.in_(sorted({m for _, m in touched})),
                in_list(session, ContactScore.contact_id, sorted({c for c, _ in touched})),
            )
        )
    }
    rows: list[dict[str, Any]] = []
    changed: set[tuple[int, int]] = set()
    for key in sorted(touched):
        new_fit = fit.get(key, had.get(key, 0.0))
        if key in delta or new_fit != had.get(key, 0.0):
            contact_id, model_id = key
            changed.add(key)
            rows.append(
                {
                    "workspace_id": workspace_id,
                    "model_id": model_id,
                    "contact_id": contact_id,
                    "engagement": delta.get(key, 0.0),
                    "fit": new_fit,
                    "updated_at": now,
                }
            )
    upsert_rows(
        session,
        ContactScore,
        rows,
        ["workspace_id", "model_id", "contact_id"],
        lambda old, new: {
            "engagement": old.engagement + new.engagement,
            "fit": new.fit,
            "updated_at": new.updated_at,
        },
    )
    return changed


def changed_events(
    session: Session, workspace_id: int, changed: set[tuple[int, int]], now: datetime
) -> list[Draft]:
    """A ``score_changed`` for each changed (contact, model), and for each combined model over
    a changed one, with the score as it is now."""
    if not changed:
        return []
    session.flush()
    all_specs = specs(session, workspace_id)
    facts = profiles.load_scores(
        session,
        workspace_id,
        sorted({c for c, _ in changed}),
        conditions.Schema(score_models=all_specs),
        now,
    )
    pairs = {(c, str(m)) for c, m in changed}
    for model_id, spec in all_specs.items():
        if spec.combined:
            pairs |= {(c, model_id) for c, m in list(pairs) if m in spec.weights}
    return [
        Draft(
            contact_id=contact_id,
            type="score_changed",
            occurred_at=now,
            properties={
                "model": model_id,
                "score": round(decay.part(model_id, "score", all_specs, facts[contact_id], now), 2),
            },
            source="scoring",
        )
        for contact_id, model_id in sorted(pairs)
    ]


def react(
    session: Session, workspace_id: int, events: Sequence[Stored], now: datetime
) -> list[Draft]:
    if all(e.type == "score_changed" for e in events):
        return []  # scores do not earn scores: this also ends the pipeline's rounds here
    rules = load_rules(session, workspace_id)
    if not rules.models:
        return []
    contacts = {e.contact_id for e in events}
    awards: list[Award] = []
    types = {e.type for e in events}
    engagement = [r for r in rules.engagement if r.event_type in types]
    if engagement:
        seen = [EventSeen(e.id, e.contact_id, e.type, e.occurred_at, e.properties) for e in events]
        since = min(e.occurred_at for e in events)
        earlier = earlier_points(session, workspace_id, engagement, contacts, since)
        awards = award(engagement, seen, earlier)
        write_points(session, workspace_id, awards)
    fit: dict[tuple[int, int], float] = {}
    if rules.has_fit:  # for the contacts whose events can change a fit rule's answer
        trees = [tree for model in rules.fit.values() for tree, _ in model]
        asked = profiles.asked(session, workspace_id, events, trees, now)
        fit = fits(session, workspace_id, rules, asked, now) if asked else {}
    changed = apply(session, workspace_id, rules, awards, fit, now)
    return changed_events(session, workspace_id, changed, now)
