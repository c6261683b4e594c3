"""Keeping dynamic segments current, incrementally.

When a batch of events arrives (the reactor, last before journeys) only the batch's contacts
are looked at, and only for the segments whose conditions those events can change: a segment
counting ``page_view`` is not re-checked for an ``order``; one on tags is re-checked after a
``tag_added``; one naming another segment after that one changed. The contacts are evaluated in
memory (``conditions.evaluate`` over profiles loaded in bulk) and the differences written.

Time moves windows without any event: for each contact evaluated, ``timing.next_change`` says
when the answer may change, and a ``segment_timer`` row waits for that moment; the worker's
timer task re-checks due rows the same way. No nightly rebuild: a full rebuild
(``segment.build``) is a repair.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from guanxi.db import bulk_insert, in_list, upsert_rows
from guanxi.event.records import Draft, Stored
from guanxi.kit import batch_memo
from guanxi.kit.ids import new_ids
from guanxi.models import Segment, SegmentChange, SegmentMember, SegmentTimer
from guanxi.segment import conditions, profiles, timing
from guanxi.segment.conditions import (
    SegmentCond,
    walk,
)
from guanxi.segment.references import usable
from guanxi.segment.service import schema_for

CONDITION: TypeAdapter[Any] = TypeAdapter(conditions.Condition)
MEMBER_KEY = ("workspace_id", "segment_id", "contact_id")  # of members and of timers


@dataclass(frozen=True)
class Live:
    """A dynamic segment with its parsed condition."""

    id: int
    name: str
    tree: Any

    @property
    def refers(self) -> set[int]:
        return {int(n.segment) for n in walk(self.tree) if isinstance(n, SegmentCond)}


def dynamic(session: Session, workspace_id: int) -> list[Live]:
    """The workspace's dynamic segments that still fit it, each after the segments it names
    (one reading per batch while the reactors run)."""
    return batch_memo.memo(
        session, ("segments", workspace_id), lambda: _read_dynamic(session, workspace_id)
    )


def _read_dynamic(session: Session, workspace_id: int) -> list[Live]:
    rows = session.execute(
        select(Segment.id, Segment.name, Segment.condition).where(
            Segment.workspace_id == workspace_id, Segment.kind == "dynamic"
        )
    ).all()
    schema = schema_for(session, workspace_id)
    parsed = {r.id: Live(r.id, r.name, CONDITION.validate_python(r.condition)) for r in rows}
    # a segment naming something deleted since (a field) is left as it is, not an error on
    # every event batch; its page shows why when it is edited
    live = {i: s for i, s in parsed.items() if usable(s.tree, schema)}
    ordered: list[Live] = []
    placed: set[int] = set()

    def place(segment: Live, path: frozenset[int]) -> None:
        if segment.id in placed or segment.id in path:  # a cycle is refused on save
            return
        for other in sorted(segment.refers):
            if other in live:
                place(live[other], path | {segment.id})
        placed.add(segment.id)
        ordered.append(segment)

    for segment in live.values():
        place(segment, frozenset())
    return ordered


def _apply(
    session: Session,
    workspace_id: int,
    segment_id: int,
    entered: set[int],
    exited: set[int],
    now: datetime,
) -> tuple[list[int], list[int]]:
    """Members in and out of one segment; returns who really came in and went out (a
    concurrent writer may have done it first: then it is theirs to record)."""
    went: list[int] = []
    came: list[int] = []
    if exited:
        went = sorted(
            session.scalars(
                delete(SegmentMember)
                .where(
                    SegmentMember.workspace_id == workspace_id,
                    SegmentMember.segment_id == segment_id,
                    in_list(session, SegmentMember.contact_id, sorted(exited)),
                )
                .returning(SegmentMember.contact_id)
            )
        )
    if entered:
        rows = [
            {"workspace_id": workspace_id, "segment_id": segment_id, "contact_id": c, "since": now}
            for c in sorted(entered)
        ]
        came = sorted(upsert_rows(session, SegmentMember, rows, MEMBER_KEY, returning="contact_id"))
    if came or went:
        session.execute(
            update(Segment)
            .where(Segment.workspace_id == workspace_id, Segment.id == segment_id)
            .values(member_count=Segment.member_count + len(came) - len(went))
        )
    return came, went


def write_changes(
    session: Session,
    workspace_id: int,
    changes: Mapping[int, tuple[set[int], set[int]]],
    names: Mapping[int, str],
    cause: str,
    now: datetime,
    *,
    emit: bool = True,
) -> list[Draft]:
    """Apply segment → (entered, exited) contact ids: members, history, counts; returns the
    ``segment_entered``/``segment_exited`` events (unless ``emit`` is off: a first build)."""
    ws = workspace_id
    history: list[dict[str, Any]] = []
    drafts: list[Draft] = []
    for segment_id, (entered, exited) in sorted(changes.items()):
        came, went = _apply(session, ws, segment_id, entered, exited, now)
        for contact_id, entering in [(c, True) for c in came] + [(c, False) for c in went]:
            history.append(
                {
                    "workspace_id": ws,
                    "segment_id": segment_id,
                    "contact_id": contact_id,
                    "entered": entering,
                    "cause": cause,
                    "at": now,
                }
            )
            if emit:
                drafts.append(
                    Draft(
                        contact_id=contact_id,
                        type="segment_entered" if entering else "segment_exited",
                        occurred_at=now,
                        properties={"segment_id": str(segment_id), "segment": names[segment_id]},
                        source=cause,
                    )
                )
    for row, i in zip(history, new_ids(len(history)), strict=True):
        row["id"] = i
    bulk_insert(session, SegmentChange, history)
    return drafts


def set_timers(
    session: Session, workspace_id: int, due: Mapping[tuple[int, int], datetime | None]
) -> None:
    """Set the timers of these (segment, contact) pairs to a moment, or take them away. Only
    the pairs whose timer moves are written — most events leave a contact's next change where
    it was — and with an upsert: the reactor and the timer task may write one pair at once."""
    if not due:
        return
    have = {
        (segment_id, contact_id): at
        for segment_id, contact_id, at in session.execute(
            select(SegmentTimer.segment_id, SegmentTimer.contact_id, SegmentTimer.due_at).where(
                SegmentTimer.workspace_id == workspace_id,
                SegmentTimer.segment_id.in_(sorted({s for s, _ in due})),
                in_list(session, SegmentTimer.contact_id, sorted({c for _, c in due})),
            )
        )
    }
    gone: dict[int, list[int]] = defaultdict(list)
    for (segment_id, contact_id), at in due.items():
        if at is None and (segment_id, contact_id) in have:
            gone[segment_id].append(contact_id)
    for segment_id, contact_ids in gone.items():
        session.execute(
            delete(SegmentTimer).where(
                SegmentTimer.workspace_id == workspace_id,
                SegmentTimer.segment_id == segment_id,
                in_list(session, SegmentTimer.contact_id, sorted(contact_ids)),
            )
        )
    rows = [
        {"workspace_id": workspace_id, "segment_id": s, "contact_id": c, "due_at": at}
        for (s, c), at in sorted(due.items())
        if at is not None and have.get((s, c)) != at
    ]
    upsert_rows(session, SegmentTimer, rows, MEMBER_KEY, lambda _, new: {"due_at": new.due_at})


def refresh(
    session: Session,
    workspace_id: int,
    segments: Sequence[Live],
    contact_ids: Iterable[int] | Mapping[int, Iterable[int]],
    cause: str,
    now: datetime,
) -> list[Draft]:
    """Re-evaluate ``segments`` (in dependency order) for these contacts — all of them, or for
    each segment id the contacts to check — and for the contacts that moved in a segment it
    names; write what changed and the next timers; returns the entered/exited events."""
    if isinstance(contact_ids, Mapping):
        targets = {s: set(c) for s, c in contact_ids.items()}
    else:
        everyone = set(contact_ids)
        targets = {s.id: everyone for s in segments}
    ids = sorted(set().union(*targets.values())) if targets else []
    if not segments or not ids:
        return []
    ws = workspace_id
    schema = schema_for(session, ws)
    trees = [s.tree for s in segments]
    loaded = profiles.load(
        session, ws, ids, trees, schema, now, fields=profiles.reads_fields(trees)
    )
    held: dict[int, set[int]] = defaultdict(set)  # contact → segments it is in
    for contact_id, segment_id in session.execute(
        select(SegmentMember.contact_id, SegmentMember.segment_id).where(
            SegmentMember.workspace_id == ws, in_list(session, SegmentMember.contact_id, ids)
        )
    ):
        held[contact_id].add(segment_id)
    changes: dict[int, tuple[set[int], set[int]]] = {}
    due: dict[tuple[int, int], datetime | None] = {}
    for segment in segments:
        entered: set[int] = set()
        exited: set[int] = set()
        moved = set().union(
            *(changes[r][0] | changes[r][1] for r in segment.refers if r in changes)
        )
        for contact_id in sorted((targets.get(segment.id, set()) | moved) & loaded.keys()):
            now_in = {str(s) for s in held[contact_id]}
            current = replace(loaded[contact_id], segments=frozenset(now_in))
            matches = conditions.evaluate(segment.tree, current, schema, now)
            was = segment.id in held[contact_id]
            if matches and not was:
                entered.add(contact_id)
                held[contact_id].add(segment.id)
            elif was and not matches:
                exited.add(contact_id)
                held[contact_id].discard(segment.id)
            due[segment.id, contact_id] = timing.next_change(segment.tree, current, schema, now)
        changes[segment.id] = (entered, exited)
    # contacts no longer active (merged into another) are not in ``loaded``: they leave
    # quietly (no one to put an event on) and their timers go
    gone = set(ids) - set(loaded)
    names = {s.id: s.name for s in segments}
    left: dict[int, tuple[set[int], set[int]]] = {
        s.id: (set(), {c for c in gone if s.id in held[c]}) for s in segments
    }
    for segment in segments:
        for contact_id in gone:
            due[segment.id, contact_id] = None
    set_timers(session, ws, due)
    write_changes(session, ws, left, names, cause, now, emit=False)
    return write_changes(session, ws, changes, names, cause, now)


def with_dependents(segments: Sequence[Live], hit: set[int]) -> list[Live]:
    """The segments in ``hit`` and those naming them, however indirectly, in order."""
    hit = set(hit)
    for s in segments:  # dependency order: a segment comes after those it names
        if s.refers & hit:
            hit.add(s.id)
    return [s for s in segments if s.id in hit]


def affected(segments: Sequence[Live], events: Sequence[Stored]) -> dict[int, set[int]]:
    """Segment id → the contacts whose events can change its answer. (A segment naming one of
    these is checked too, by ``refresh``, for the contacts that move in it.)"""
    return profiles.touching(events, {s.id: s.tree for s in segments})


def react(
    session: Session, workspace_id: int, events: Sequence[Stored], now: datetime
) -> list[Draft]:
    """A contact made by this very request (``created_at`` is the request's ``now``) is checked
    against every segment — "never ordered" holds for someone new; the others only against the
    segments their events can change."""
    segments = dynamic(session, workspace_id)
    if not segments:
        return []
    new = profiles.made_now(session, workspace_id, {e.contact_id for e in events}, now)
    targets = {s: c - new for s, c in affected(segments, events).items()}
    drafts = refresh(
        session, workspace_id, with_dependents(segments, set(targets)), targets, "event", now
    )
    return drafts + refresh(session, workspace_id, segments, new, "event", now)
