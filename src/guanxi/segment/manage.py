"""Segments: creating, changing (a condition that names segments must not lead back to
itself), deleting, rebuilding, static list membership, and reading members and history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.contact import service as contacts
from guanxi.errors import Conflict, NotFound
from guanxi.event import service as events
from guanxi.i18n import N_
from guanxi.kit.pagination import SortSpec, paginate
from guanxi.models import Contact, Segment, SegmentChange, SegmentMember, SegmentTimer
from guanxi.segment import build, membership, references
from guanxi.segment.conditions import SegmentCond, walk
from guanxi.segment.schemas import SegmentIn
from guanxi.segment.service import checked


class SegmentCycle(Conflict):
    code = "segment_cycle"
    message = N_("The condition leads back to this segment through {path}.")


class SegmentInUse(Conflict):
    code = "segment_in_use"
    message = N_("{name} names this segment in its condition: change that first.")


class NotAList(Conflict):
    code = "segment_not_static"
    message = N_("Members are added and removed by hand only in a static list.")


def list_segments(session: Session, actor: Principal) -> Sequence[Segment]:
    actor.require("segments:read")
    return session.scalars(
        select(Segment).where(Segment.workspace_id == actor.workspace_id).order_by(Segment.name)
    ).all()


def get(session: Session, actor: Principal, segment_id: int, *, write: bool = False) -> Segment:
    actor.require("segments:write" if write else "segments:read")
    segment = session.get(Segment, (actor.workspace_id, segment_id))
    if segment is None:
        raise NotFound(resource=N_("Segment"))
    return segment


def _refers(tree: Any) -> list[str]:
    return sorted({n.segment for n in walk(tree) if isinstance(n, SegmentCond)})


def _no_cycle(session: Session, workspace_id: int, segment_id: int, refers: list[str]) -> None:
    """Refuse a condition that reaches ``segment_id`` again through the segments it names."""
    graph = {
        str(i): list(r or [])
        for i, r in session.execute(
            select(Segment.id, Segment.refers_to).where(Segment.workspace_id == workspace_id)
        )
    }
    names = dict(
        session.execute(
            select(Segment.id, Segment.name).where(Segment.workspace_id == workspace_id)
        ).all()
    )
    me = str(segment_id)
    stack = [(r, [r]) for r in refers]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        if node == me:
            raise SegmentCycle(
                path=" → ".join(names.get(int(p), p) for p in [me, *path]),
                details={"segment_ids": [me, *path]},
            )
        if node in seen:
            continue
        seen.add(node)
        stack += [(n, [*path, n]) for n in graph.get(node, [])]


def create(session: Session, actor: Principal, data: SegmentIn, now: datetime) -> Segment:
    actor.require("segments:write")
    segment = Segment(
        workspace_id=actor.workspace_id,
        name=data.name,
        kind=data.kind,
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    if data.condition is not None:
        checked(session, actor.workspace_id, data.condition)
        segment.condition = data.condition.model_dump(mode="json")
        segment.refers_to = _refers(data.condition)
    session.add(segment)
    session.flush()
    if segment.kind == "dynamic":
        build.start(session, segment, "build", actor.user_id, now)
    session.flush()
    return segment


def update(
    session: Session, actor: Principal, segment_id: int, data: SegmentIn, now: datetime
) -> Segment:
    segment = get(session, actor, segment_id, write=True)
    if data.kind != segment.kind:
        raise Conflict()
    segment.name, segment.updated_at = data.name, now
    if data.condition is not None:
        checked(session, actor.workspace_id, data.condition)
        refers = _refers(data.condition)
        _no_cycle(session, actor.workspace_id, segment.id, refers)
        condition = data.condition.model_dump(mode="json")
        if condition != segment.condition:
            segment.condition, segment.refers_to = condition, refers
            session.flush()
            build.start(session, segment, "change", actor.user_id, now)
    session.flush()
    return segment


def delete_segment(session: Session, actor: Principal, segment_id: int) -> None:
    segment = get(session, actor, segment_id, write=True)
    user = references.user_of(
        session, actor.workspace_id, "segment", segment.id, besides=("segment", segment.id)
    )
    if user is not None:
        raise SegmentInUse(name=user)
    ws = actor.workspace_id
    for table in (SegmentMember, SegmentTimer, SegmentChange):
        session.execute(
            delete(table).where(table.workspace_id == ws, table.segment_id == segment.id)
        )
    session.delete(segment)
    session.flush()


def rebuild(session: Session, actor: Principal, segment_id: int, now: datetime) -> Segment:
    """The repair: members made to match the condition again, set-based (incremental upkeep
    keeps them current; this is for after a bug or a restore)."""
    segment = get(session, actor, segment_id, write=True)
    if segment.kind != "dynamic":
        raise NotAList()
    build.start(session, segment, "rebuild", actor.user_id, now)
    session.flush()
    return segment


def change_members(
    session: Session,
    actor: Principal,
    segment_id: int,
    contact_ids: Sequence[int],
    add: bool,
    now: datetime,
    cause: str = "manual",
) -> int:
    """Add (or remove) contacts to a static list: those the actor may see; returns how many
    changed. Entering and leaving are events like a dynamic segment's."""
    segment = get(session, actor, segment_id, write=True)
    if segment.kind != "static":
        raise NotAList()
    ws = actor.workspace_id
    wanted = sorted(set(contact_ids))
    visible = set(
        session.scalars(
            select(Contact.id).where(
                Contact.workspace_id == ws,
                Contact.id.in_(wanted),
                Contact.status == "active",
                contacts.visible(session, actor),
            )
        )
    )
    missing = [c for c in wanted if c not in visible]
    if missing:
        raise NotFound(resource=N_("Contact"), details={"contact_ids": [str(c) for c in missing]})
    held = set(
        session.scalars(
            select(SegmentMember.contact_id).where(
                SegmentMember.workspace_id == ws,
                SegmentMember.segment_id == segment.id,
                SegmentMember.contact_id.in_(wanted),
            )
        )
    )
    change = (visible - held, set()) if add else (set(), visible & held)
    drafts = membership.write_changes(
        session, ws, {segment.id: change}, {segment.id: segment.name}, cause, now
    )
    if drafts:
        events.store(session, ws, drafts, now)
    segment.updated_at = now
    session.flush()
    return len(change[0]) + len(change[1])


MEMBER_SORT = SortSpec(
    fields={"since": SegmentMember.since}, tiebreak=SegmentMember.contact_id, default="-since"
)


def members(
    session: Session, actor: Principal, segment_id: int, limit: int, cursor: str | None
) -> tuple[list[Contact], str | None]:
    """The members the actor may see, newest first."""
    segment = get(session, actor, segment_id)
    stmt = (
        select(SegmentMember, Contact)
        .join(
            Contact,
            (Contact.workspace_id == SegmentMember.workspace_id)
            & (Contact.id == SegmentMember.contact_id),
        )
        .where(
            SegmentMember.workspace_id == actor.workspace_id,
            SegmentMember.segment_id == segment.id,
            contacts.visible(session, actor),
        )
    )
    rows, next_cursor = paginate(session, stmt, MEMBER_SORT, sort=None, limit=limit, cursor=cursor)
    return [tuple(r)[1] for r in rows], next_cursor


def history(
    session: Session, actor: Principal, segment_id: int, days: int, now: datetime
) -> list[dict[str, Any]]:
    """Entered and exited per day (UTC) over the last ``days`` days, oldest first."""
    segment = get(session, actor, segment_id)
    since = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    counts: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for at, entered in session.execute(
        select(SegmentChange.at, SegmentChange.entered).where(
            SegmentChange.workspace_id == actor.workspace_id,
            SegmentChange.segment_id == segment.id,
            SegmentChange.at >= since,
            SegmentChange.cause != "build",
        )
    ):
        counts[at.date()][0 if entered else 1] += 1
    return [
        {"day": d, "entered": counts[d][0], "exited": counts[d][1]}
        for d in (since.date() + timedelta(days=i) for i in range(days))
    ]
