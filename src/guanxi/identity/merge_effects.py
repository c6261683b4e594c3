"""What a merge (or its undo) changes beyond the two contacts' own rows: static lists the
merged contact was on now hold the survivor; a stage it filled is a move in the history; both
contacts are scored afresh from the events they now have; every dynamic segment is re-checked
for both (the merged one leaves them quietly: it is no one any more); and a ``profile_updated``
event lets the rest of the pipeline (lifecycle entry rules) see the survivor's new fields. Undo
reverses the lists and the stage move and re-runs the rest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from guanxi.event import service as events
from guanxi.event.records import Draft
from guanxi.lifecycle import moves
from guanxi.lifecycle.moves import Move
from guanxi.models import ContactMerge, Event, Segment, SegmentMember, StageChange
from guanxi.scoring import engine
from guanxi.scoring.service import rescore_contacts
from guanxi.segment import membership


def _lists_of(session: Session, workspace_id: int, contact_id: int) -> set[int]:
    return set(
        session.scalars(
            select(SegmentMember.segment_id)
            .join(
                Segment,
                (Segment.workspace_id == SegmentMember.workspace_id)
                & (Segment.id == SegmentMember.segment_id),
            )
            .where(
                SegmentMember.workspace_id == workspace_id,
                SegmentMember.contact_id == contact_id,
                Segment.kind == "static",
            )
        )
    )


def _names(session: Session, workspace_id: int, ids: set[int]) -> dict[int, str]:
    return dict(
        session.execute(
            select(Segment.id, Segment.name).where(
                Segment.workspace_id == workspace_id, Segment.id.in_(sorted(ids))
            )
        ).all()
    )


def _rescore(session: Session, log: ContactMerge, now: datetime) -> list[Draft]:
    ws, both = log.workspace_id, [log.survivor_id, log.merged_id]
    rescore_contacts(session, ws, engine.load_rules(session, ws), both, now)
    drafts = membership.refresh(session, ws, membership.dynamic(session, ws), both, "merge", now)
    drafts.append(
        Draft(log.survivor_id, "profile_updated", now, {"fields": ["merge"]}, source="merge")
    )
    return drafts


def merged(session: Session, log: ContactMerge, now: datetime) -> None:
    """After ``log``'s merge: lists, the stage it filled, scores, segments."""
    ws, survivor, gone = log.workspace_id, log.survivor_id, log.merged_id
    lists = _lists_of(session, ws, gone)
    added = lists - _lists_of(session, ws, survivor)
    names = _names(session, ws, lists)
    membership.write_changes(
        session, ws, {s: (set(), {gone}) for s in lists}, names, "merge", now, emit=False
    )
    drafts = membership.write_changes(
        session, ws, {s: ({survivor}, set()) for s in added}, names, "merge", now
    )
    stage = log.moved.get("fields", {}).get("stage")
    staged: list[int] = []
    if stage is not None:  # the merge filled an empty stage: that is a move, with its history
        staged, moved = moves.write(
            session, ws, [Move(survivor, None, stage, "merge")], now, source=f"merge:{log.id}"
        )
        drafts += moved
    log.moved = {
        **log.moved,
        "lists": sorted(str(s) for s in lists),
        "lists_added": sorted(str(s) for s in added),
        "stage_changes": [str(i) for i in staged],
    }
    events.store(session, ws, drafts + _rescore(session, log, now), now)


def unmerged(session: Session, log: ContactMerge, now: datetime) -> None:
    """After ``log``'s merge was undone: the lists back as they were, the stage move it made
    forgotten (its value went back with the fields), scores and segments."""
    ws, survivor, back = log.workspace_id, log.survivor_id, log.merged_id
    staged = [int(i) for i in log.moved.get("stage_changes", [])]
    if staged:
        session.execute(
            delete(StageChange).where(StageChange.workspace_id == ws, StageChange.id.in_(staged))
        )
        session.execute(
            delete(Event).where(
                Event.workspace_id == ws,
                Event.contact_id == survivor,
                Event.type == "stage_changed",
                Event.source == f"merge:{log.id}",
            )
        )
    lists = {int(s) for s in log.moved.get("lists", [])}
    added = {int(s) for s in log.moved.get("lists_added", [])} & _lists_of(session, ws, survivor)
    names = _names(session, ws, lists | added)
    drafts = membership.write_changes(
        session, ws, {s: (set(), {survivor}) for s in added}, names, "merge", now
    )
    drafts += membership.write_changes(
        session,
        ws,
        {s: ({back}, set()) for s in lists & set(names)},  # lists deleted since are gone
        names,
        "merge",
        now,
    )
    events.store(session, ws, drafts + _rescore(session, log, now), now)
