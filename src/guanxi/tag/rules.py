"""Auto-tag rules, the first reactor of the pipeline after attribution.

For a batch of stored events: the enabled rules on the batch's event types (one query), each
event matched against its rules' property filters in memory, then — for rules with a contact
condition — the profiles of the contacts concerned loaded in bulk (``segment.profiles.load``)
and the condition evaluated in memory, after the triggering event was stored (so a condition
may count it). The adds and removes are written by ``tag.holdings.change`` and the
``tag_added``/``tag_removed`` drafts are returned for the caller to store and pass on.

A few queries per batch whatever its size; none per event. This module must not import
``event.service`` (which imports the reactors).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from guanxi.db import in_list
from guanxi.event.records import Draft, Stored
from guanxi.models import Contact, TagRule
from guanxi.segment import conditions, profiles
from guanxi.segment.conditions import PropFilter, prop_matches
from guanxi.segment.references import usable
from guanxi.segment.service import schema_for
from guanxi.tag import holdings
from guanxi.tag.holdings import Wanted

CONDITION: TypeAdapter[Any] = TypeAdapter(conditions.Condition)
FILTERS: TypeAdapter[tuple[PropFilter, ...]] = TypeAdapter(tuple[PropFilter, ...])


def react(
    session: Session, workspace_id: int, events: Sequence[Stored], now: datetime
) -> list[Draft]:
    types = sorted({e.type for e in events})
    rules = session.scalars(
        select(TagRule)
        .where(
            TagRule.workspace_id == workspace_id,
            TagRule.enabled.is_(True),
            TagRule.event_type.in_(types),
        )
        .order_by(TagRule.created_at, TagRule.id)
    ).all()
    if not rules:
        return []
    by_type: dict[str, list[tuple[TagRule, tuple[PropFilter, ...]]]] = defaultdict(list)
    for rule in rules:
        by_type[rule.event_type].append((rule, FILTERS.validate_python(rule.where or [])))
    hits = [
        (event, rule)
        for event in sorted(events, key=lambda e: (e.occurred_at, e.id))
        for rule, where in by_type.get(event.type, ())
        if all(prop_matches(f, event.properties) for f in where)
    ]
    if not hits:
        return []
    contact_ids = sorted({e.contact_id for e, _ in hits})
    active = set(
        session.scalars(
            select(Contact.id).where(
                Contact.workspace_id == workspace_id,
                in_list(session, Contact.id, contact_ids),
                Contact.status == "active",
            )
        )
    )
    trees = {r.id: CONDITION.validate_python(r.condition) for _, r in hits if r.condition}
    passes: dict[tuple[int, int], bool] = {}
    if trees:
        schema = schema_for(session, workspace_id)
        for rule_id, tree in list(trees.items()):
            if not usable(tree, schema):  # names something deleted since: the rule is off
                passes.update({(e.contact_id, r.id): False for e, r in hits if r.id == rule_id})
                del trees[rule_id]
        asked = sorted({e.contact_id for e, r in hits if r.id in trees} & active)
        found = profiles.load(
            session,
            workspace_id,
            asked,
            list(trees.values()),
            schema,
            now,
            fields=profiles.reads_fields(trees.values()),
        )
        for event, rule in hits:
            profile = found.get(event.contact_id)
            if rule.id in trees:
                passes[event.contact_id, rule.id] = profile is not None and conditions.evaluate(
                    trees[rule.id], profile, schema, now
                )
    wanted = [
        Wanted(event.contact_id, rule.tag_id, rule.action == "add", rule.id)
        for event, rule in hits
        if event.contact_id in active and passes.get((event.contact_id, rule.id), True)
    ]
    return holdings.change(session, workspace_id, wanted, source="rule", actor_id=None, now=now)
