"""Writing moves — the one path every cause shares (a person, the API, an import, an entry
rule) — and the ladder that says which way a move goes.

This module does not store events itself: it returns the ``stage_changed`` drafts, which the
caller hands to ``event.service.store`` (or, for the entry-rule reactor, returns to the
pipeline). It must not import ``guanxi.event.service``: the reactor pipeline imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from guanxi.db import bulk_insert
from guanxi.event.records import Draft
from guanxi.kit.ids import new_ids
from guanxi.models import Contact, LifecycleStage, StageChange


@dataclass(frozen=True)
class Rung:
    key: str
    position: int
    kind: str  # funnel | exit


class Ladder:
    """A workspace's stages in order. Direction: further along the funnel is forward; into an
    exit stage (churned) is never backward; from an exit stage back into the funnel (a
    win-back) is; from no stage, or from a key no stage has, nothing is backward."""

    def __init__(self, stages: Sequence[LifecycleStage | Rung]) -> None:
        self.rungs = {s.key: Rung(s.key, s.position, s.kind) for s in stages}

    def __contains__(self, key: object) -> bool:
        return key in self.rungs

    def backward(self, from_key: str | None, to_key: str) -> bool:
        here, there = self.rungs.get(from_key or ""), self.rungs[to_key]
        if here is None or there.kind == "exit":
            return False
        if here.kind == "exit":
            return True
        return there.position < here.position


@dataclass(frozen=True)
class Move:
    contact_id: int
    from_stage: str | None
    to_stage: str
    cause: str
    backward: bool = False
    actor_id: int | None = None
    note: str | None = None


def write(
    session: Session,
    workspace_id: int,
    moves: Sequence[Move],
    now: datetime,
    source: str = "lifecycle",
) -> tuple[list[int], list[Draft]]:
    """Record ``moves`` (one stage change each, ``contact.stage`` updated) in a few statements;
    returns the changes' ids and their ``stage_changed`` event drafts (from ``source``), which
    the caller stores."""
    if not moves:
        return [], []
    ids = new_ids(len(moves))
    rows: list[dict[str, Any]] = [
        {
            "workspace_id": workspace_id,
            "id": change_id,
            "contact_id": m.contact_id,
            "from_stage": m.from_stage,
            "to_stage": m.to_stage,
            "cause": m.cause,
            "actor_id": m.actor_id,
            "note": m.note,
            "backward": m.backward,
            "changed_at": now,
        }
        for change_id, m in zip(ids, moves, strict=True)
    ]
    session.flush()
    bulk_insert(session, StageChange, rows)
    session.execute(
        update(Contact),
        [
            {
                "workspace_id": workspace_id,
                "id": m.contact_id,
                "stage": m.to_stage,
                "updated_at": now,
            }
            for m in moves
        ],
    )
    # contacts loaded in this session still show the old stage: read it again when next asked
    moved = {m.contact_id for m in moves}
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Contact) and obj.workspace_id == workspace_id and obj.id in moved:
            session.expire(obj, ["stage", "updated_at"])
    return ids, [
        Draft(
            contact_id=m.contact_id,
            type="stage_changed",
            occurred_at=now,
            properties={
                "from": m.from_stage,
                "to": m.to_stage,
                "cause": m.cause,
                "backward": m.backward,
                **({"note": m.note} if m.note else {}),
            },
            source=source,
        )
        for m in moves
    ]


def ladder(session: Session, workspace_id: int) -> Ladder:
    return Ladder(
        session.scalars(
            select(LifecycleStage).where(LifecycleStage.workspace_id == workspace_id)
        ).all()
    )
