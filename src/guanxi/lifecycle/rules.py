"""Entry rules, the third reactor of the pipeline (after tag rules and scoring, so a score that
just crossed a threshold counts), and the same decision for a re-application to every contact.

What a rule means:

* A funnel stage's rule moves a contact **forward** into it: each contact of the batch goes to
  the furthest funnel stage past its current one whose rule it matches now (skipping stages in
  between is allowed: a contact may go from lead straight to SQL). A rule never moves anyone
  backward: recycling is a person's decision.
* An exit stage's rule (churned: "no purchase in 365 days") takes a contact that is in a
  funnel stage out of the funnel; it wins over funnel rules. A contact with no stage has not
  entered the funnel and is not churned by rule.
* A contact in an exit stage stays there whatever it matches: a win-back is a person's move.
* A rule that no longer checks against the workspace (its custom field or scoring model was
  deleted) moves nobody.

Set-wise: one query for the stages, the workspace's schema, then ``segment.profiles.load``
(one query per kind of data the rules look at) for the whole batch, one write for the moves.
This module must not import ``guanxi.event.service`` (which imports the reactors).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from guanxi.errors import InvalidValue
from guanxi.event.records import Draft, Stored
from guanxi.lifecycle import moves
from guanxi.lifecycle.moves import Ladder, Move, Rung
from guanxi.models import Contact, LifecycleStage
from guanxi.segment import conditions, profiles
from guanxi.segment.conditions import Condition
from guanxi.segment.service import schema_for
from guanxi.segment.sql import compile_sql

RULE: TypeAdapter[Any] = TypeAdapter(Condition)


def decide(
    ladder: Ladder,
    ruled: Sequence[tuple[Rung, Any]],
    current: str | None,
    matches: Callable[[Any], bool],
) -> str | None:
    """Where entry rules take a contact now in ``current`` (None: stay), by the rules above.
    ``matches(tree)`` is asked only for the rules that could apply."""
    here = ladder.rungs.get(current or "")
    if here is not None and here.kind == "exit":
        return None
    if here is not None:
        exits = [r for r, tree in ruled if r.kind == "exit" and matches(tree)]
        if exits:
            return min(exits, key=lambda r: r.position).key
    ahead = sorted(
        (
            (r, tree)
            for r, tree in ruled
            if r.kind == "funnel" and (here is None or r.position > here.position)
        ),
        key=lambda pair: -pair[0].position,
    )
    for rung, tree in ahead:  # the furthest first: the first match is the answer
        if matches(tree):
            return rung.key
    return None


def _ruled(stages: Sequence[LifecycleStage], schema: conditions.Schema) -> list[tuple[Rung, Any]]:
    """The stages' rules that still check against the workspace, parsed."""
    found = []
    for stage in stages:
        if stage.entry_rule is None:
            continue
        tree = RULE.validate_python(stage.entry_rule)
        try:
            conditions.check(tree, schema)
        except InvalidValue:
            continue
        found.append((Rung(stage.key, stage.position, stage.kind), tree))
    return found


def _stages(session: Session, workspace_id: int) -> Sequence[LifecycleStage]:
    return session.scalars(
        select(LifecycleStage).where(LifecycleStage.workspace_id == workspace_id)
    ).all()


def advance(
    session: Session, workspace_id: int, contact_ids: Iterable[int], now: datetime
) -> list[Draft]:
    """Apply the entry rules to these contacts; returns the ``stage_changed`` drafts of the
    moves written (cause ``rule``)."""
    ids = set(contact_ids)
    stages = _stages(session, workspace_id)
    if not ids or not any(s.entry_rule is not None for s in stages):
        return []
    schema = schema_for(session, workspace_id)
    ruled = _ruled(stages, schema)
    if not ruled:
        return []
    ladder = Ladder(stages)
    loaded = profiles.load(session, workspace_id, ids, [t for _, t in ruled], schema, now)
    found: list[Move] = []
    for contact_id, profile in sorted(loaded.items()):
        current = profile.fields.get("stage")
        target = decide(
            ladder,
            ruled,
            current,
            lambda tree, p=profile: conditions.evaluate(tree, p, schema, now),  # type: ignore[misc]
        )
        if target is not None and target != current:
            found.append(
                Move(contact_id, current, target, "rule", ladder.backward(current, target))
            )
    return moves.write(session, workspace_id, found, now)[1]


def react(
    session: Session, workspace_id: int, events: Sequence[Stored], now: datetime
) -> list[Draft]:
    """The contacts whose events can change some entry rule's answer, and those the request
    made (new people may match any rule)."""
    trees = [
        RULE.validate_python(s.entry_rule) for s in _stages(session, workspace_id) if s.entry_rule
    ]
    return advance(
        session, workspace_id, profiles.asked(session, workspace_id, events, trees, now), now
    )


def candidates(
    session: Session, workspace_id: int, after: int, limit: int, now: datetime
) -> list[int]:
    """The next ``limit`` active contacts (by id, after ``after``) that match at least one
    entry rule, found in SQL: what a re-application then decides for, batch by batch."""
    stages = _stages(session, workspace_id)
    if not any(s.entry_rule is not None for s in stages):
        return []
    schema = schema_for(session, workspace_id)
    ruled = _ruled(stages, schema)
    if not ruled:
        return []
    dialect = session.get_bind().dialect.name
    stmt = (
        select(Contact.id)
        .where(
            Contact.workspace_id == workspace_id,
            Contact.status == "active",
            Contact.id > after,
            or_(*(compile_sql(tree, schema, workspace_id, now, dialect) for _, tree in ruled)),
        )
        .order_by(Contact.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))
