"""Building a segment from scratch, set-based: the first build of a new or changed condition,
and the repair rebuild. Contacts are taken in id order a chunk at a time; for each chunk one
SQL statement (``compile_sql``) says who matches, and the difference with the stored members
is written. Members of a condition that moves with time get their timers as they are built.

A small workspace is built inside the request; a large one by the ``segment_build`` job, which
checkpoints after every chunk and so resumes where a killed worker stopped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guanxi.db import transaction
from guanxi.event import service as events
from guanxi.kit.clock import utcnow
from guanxi.models import Contact, Segment, SegmentMember
from guanxi.segment import membership, profiles, timing
from guanxi.segment.service import schema_for
from guanxi.segment.sql import compile_sql
from guanxi.worker import jobs
from guanxi.worker.jobs import JobContext, handler

BUILD = "segment_build"
CHUNK = 2000
INLINE = 20_000  # active contacts up to which a build runs in the request


def chunk(session: Session, segment: Segment, after: int, cause: str, now: datetime) -> int | None:
    """Build the members among the next contacts after id ``after``; returns the last id seen,
    or None when no contact is left. A first build (cause ``build``) records no events."""
    ws = segment.workspace_id
    ids = list(
        session.scalars(
            select(Contact.id)
            .where(Contact.workspace_id == ws, Contact.status == "active", Contact.id > after)
            .order_by(Contact.id)
            .limit(CHUNK)
        )
    )
    upto = ids[-1] if len(ids) == CHUNK else None  # the last chunk reaches to the end
    schema = schema_for(session, ws)
    tree = membership.CONDITION.validate_python(segment.condition)
    dialect = session.get_bind().dialect.name
    matching = (
        set(
            session.scalars(
                select(Contact.id).where(
                    Contact.workspace_id == ws,
                    Contact.id.in_(ids),
                    compile_sql(tree, schema, ws, now, dialect),
                )
            )
        )
        if ids
        else set()
    )
    stmt = select(SegmentMember.contact_id).where(
        SegmentMember.workspace_id == ws,
        SegmentMember.segment_id == segment.id,
        SegmentMember.contact_id > after,
    )
    if upto is not None:
        stmt = stmt.where(SegmentMember.contact_id <= upto)
    current = set(session.scalars(stmt))  # merged contacts' old memberships are in range too
    drafts = membership.write_changes(
        session,
        ws,
        {segment.id: (matching - current, current - matching)},
        {segment.id: segment.name},
        cause,
        now,
        emit=cause != "build",
    )
    if timing.moves_with_time(tree, schema) and ids:
        loaded = profiles.load(
            session, ws, ids, [tree], schema, now, fields=profiles.reads_fields([tree])
        )
        membership.set_timers(
            session,
            ws,
            {(segment.id, c): timing.next_change(tree, p, schema, now) for c, p in loaded.items()},
        )
    if drafts:
        events.store(session, ws, drafts, now)
    return upto


def start(session: Session, segment: Segment, cause: str, by: int | None, now: datetime) -> None:
    """Build now when the workspace is small, else as a job."""
    ws = segment.workspace_id
    active = session.scalar(
        select(func.count())
        .select_from(Contact)
        .where(Contact.workspace_id == ws, Contact.status == "active")
    )
    if (active or 0) > INLINE:
        payload = {"segment_id": str(segment.id), "cause": cause, "by": by}
        jobs.enqueue(session, ws, BUILD, payload, by)
        return
    after: int | None = 0
    while after is not None:
        after = chunk(session, segment, after, cause, now)
    segment.rebuilt_at = now
    for dependent in dependents(session, segment):
        start(session, dependent, "change", by, now)


def dependents(session: Session, segment: Segment) -> list[Segment]:
    """The dynamic segments whose condition names this one (they follow its rebuilds)."""
    return [
        other
        for other in session.scalars(
            select(Segment).where(
                Segment.workspace_id == segment.workspace_id, Segment.kind == "dynamic"
            )
        )
        if str(segment.id) in (other.refers_to or [])
    ]


@handler(BUILD)
def run(context: JobContext) -> str:
    """Progress: ``after``, the last contact id built."""
    after: int | None = int(context.progress.get("after", 0))
    while after is not None:
        with transaction(context.factory) as session:
            segment = session.get(
                Segment, (context.workspace_id, int(context.payload["segment_id"]))
            )
            if segment is None or segment.kind != "dynamic":
                return "done"
            now: Any = utcnow()
            after = chunk(session, segment, after, context.payload["cause"], now)
            if after is None:
                segment.rebuilt_at = now
                for dependent in dependents(session, segment):
                    start(session, dependent, "change", context.payload.get("by"), now)
            context.checkpoint({"after": after or 0}, session)
    return "done"
