"""Broadcasts: one message to every member of a segment (an email blast). Sending is a job that
pages through the members by contact id, writing one keyed message per contact and
checkpointing each page with its messages, so a killed worker's successor resumes after the
last page and nobody gets a second copy (the key ``b:<broadcast>:<contact>`` is unique).

The outbox then sends them at the dispatcher's pace, with consent, suppression, quiet hours
and caps checked for each message when it goes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.db import transaction
from guanxi.errors import Conflict, NotFound
from guanxi.i18n import N_
from guanxi.kit.clock import utcnow
from guanxi.message import outbox, templates
from guanxi.models import Broadcast, Segment, SegmentMember
from guanxi.segment import manage as segments
from guanxi.worker import jobs
from guanxi.worker.jobs import JobContext, handler

PAGE = 1000


class BroadcastStarted(Conflict):
    code = "broadcast_started"
    message = N_("The broadcast has been sent already.")


def get(session: Session, actor: Principal, broadcast_id: int, *, write: bool = False) -> Broadcast:
    actor.require("messages:write" if write else "messages:read")
    row = session.get(Broadcast, (actor.workspace_id, broadcast_id))
    if row is None:
        raise NotFound(resource=N_("Broadcast"))
    return row


def listed(session: Session, actor: Principal) -> Sequence[Broadcast]:
    actor.require("messages:read")
    stmt = select(Broadcast).where(Broadcast.workspace_id == actor.workspace_id)
    return session.scalars(stmt.order_by(Broadcast.created_at.desc(), Broadcast.id)).all()


def create(
    session: Session,
    actor: Principal,
    *,
    name: str,
    template_id: int,
    segment_id: int,
    marketing: bool,
    now: datetime,
) -> Broadcast:
    actor.require("messages:write")
    template = templates.get(session, actor, template_id)
    segment = segments.get(session, actor, segment_id)
    row = Broadcast(
        workspace_id=actor.workspace_id,
        name=name,
        channel=template.channel,
        template_id=template.id,
        segment_id=segment.id,
        marketing=marketing,
        status="draft",
        created_by=actor.user_id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def send(session: Session, actor: Principal, broadcast_id: int, now: datetime) -> Broadcast:
    """Start the job that writes the messages (409 ``broadcast_started`` the second time)."""
    row = get(session, actor, broadcast_id, write=True)
    if row.status != "draft":
        raise BroadcastStarted()
    job = jobs.enqueue(
        session, actor.workspace_id, "broadcast", {"broadcast_id": str(row.id)}, actor.user_id
    )
    row.status, row.job_id, row.scheduled_at = "sending", job.id, now
    session.flush()
    return row


def page(session: Session, row: Broadcast, after: int, now: datetime) -> int | None:
    """Write the messages of the next page of members; the last contact id, or None at the
    end of the segment."""
    ids = list(
        session.scalars(
            select(SegmentMember.contact_id)
            .where(
                SegmentMember.workspace_id == row.workspace_id,
                SegmentMember.segment_id == row.segment_id,
                SegmentMember.contact_id > after,
            )
            .order_by(SegmentMember.contact_id)
            .limit(PAGE)
        )
    )
    if not ids:
        return None
    drafts = [
        outbox.Draft(
            key=outbox.broadcast_key(row.id, contact_id),
            channel=row.channel,
            contact_id=contact_id,
            template_id=row.template_id,
            due_at=now,
            marketing=row.marketing,
            broadcast_id=row.id,
            sender_id=row.created_by,
        )
        for contact_id in ids
    ]
    row.queued += outbox.enqueue(session, row.workspace_id, drafts, now)
    return ids[-1]


@handler("broadcast")
def run(context: JobContext) -> str:
    """Progress: ``after``, the last contact id written."""
    after: int | None = int(context.progress.get("after", 0))
    while after is not None:
        with transaction(context.factory) as session:
            row = session.get(
                Broadcast, (context.workspace_id, int(context.payload["broadcast_id"]))
            )
            if row is None or session.get(Segment, (row.workspace_id, row.segment_id)) is None:
                return "done"
            after = page(session, row, after, utcnow())
            if after is None:
                row.status = "sent"
            if context.checkpoint({"after": after or 0}, session):
                row.status = "cancelled"
                return "cancelled"
    return "done"
