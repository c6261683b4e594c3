"""Cancelling an import: a compensating transaction that leaves the workspace as it was —
merges the import made are reverted (newest first), what it created is deleted with its
identities and links and all that derives from it (segment memberships, tags, scores, events),
the values it replaced are restored (its stage moves with their history and events removed),
its collisions forgotten; then segments, fit scores and entry rules catch up as after an
import."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from guanxi.db import transaction
from guanxi.errors import GuanxiError
from guanxi.identity import merging
from guanxi.importer import followups
from guanxi.importer.plan import Options
from guanxi.kit.clock import utcnow
from guanxi.models import (
    Account,
    Collision,
    Contact,
    ContactAccount,
    ContactMerge,
    ContactScore,
    ContactTag,
    Event,
    Identity,
    ImportChange,
    Job,
    ScorePoint,
    Segment,
    SegmentChange,
    SegmentMember,
    SegmentTimer,
    StageChange,
)
from guanxi.segment import membership
from guanxi.worker import jobs
from guanxi.worker.jobs import JobContext


def _forget(session: Session, ws: int, created: Select[Any]) -> None:
    """Everything derived from the contacts the import made (their segment memberships with
    the counts, timers and history, tags, scores, stage history, events): they never were."""
    session.execute(
        update(Segment)
        .where(Segment.workspace_id == ws)
        .values(
            member_count=Segment.member_count
            - select(func.count())
            .select_from(SegmentMember)
            .where(
                SegmentMember.workspace_id == ws,
                SegmentMember.segment_id == Segment.id,
                SegmentMember.contact_id.in_(created),
            )
            .scalar_subquery()
        )
    )
    for table in (
        SegmentMember,
        SegmentTimer,
        SegmentChange,
        ContactTag,
        ContactScore,
        ScorePoint,
        StageChange,
        Event,
    ):
        session.execute(
            delete(table).where(table.workspace_id == ws, table.contact_id.in_(created))
        )


def _leave_list(
    session: Session, ws: int, context: JobContext, started: datetime, now: datetime
) -> None:
    """The contacts this import put on its static list leave it again."""
    list_id = Options.of(context.payload).list_id
    if list_id is None:
        return
    added = set(
        session.scalars(
            select(SegmentChange.contact_id).where(
                SegmentChange.workspace_id == ws,
                SegmentChange.segment_id == list_id,
                SegmentChange.cause == "import",
                SegmentChange.entered.is_(True),
                SegmentChange.at >= started,
            )
        )
    )
    membership.write_changes(
        session, ws, {list_id: (set(), added)}, {list_id: ""}, "import", now, emit=False
    )


def cancel(context: JobContext) -> str:
    """Undo everything the import wrote: merges it made (newest first), contacts and accounts
    it created (with their identities and links), identities and links it added, values it
    replaced."""
    ws, job = context.workspace_id, context.job_id
    kept: list[str] = []  # merges someone built on since: left as they are, and reported
    with transaction(context.factory) as session:
        # fenced like a checkpoint, and holding the job row so no other worker starts the same
        # cancel; what it undoes is deleted with it, so running it again changes nothing
        row = jobs.held(session, ws, job, context.worker)
        if row is None:
            raise jobs.LeaseLost(f"job {job} is no longer held by {context.worker}")
        started = row.started_at or row.created_at
        now = utcnow()
        for log in session.scalars(
            select(ContactMerge)
            .where(
                ContactMerge.workspace_id == ws,
                ContactMerge.import_id == job,
                ContactMerge.undone_at.is_(None),
            )
            .order_by(ContactMerge.id.desc())  # ids keep their order when a clock steps back
        ):
            try:
                with session.begin_nested():
                    merging.revert(session, log, None, now)
            except GuanxiError:
                kept.append(str(log.id))
        session.execute(
            delete(ContactAccount).where(
                ContactAccount.workspace_id == ws, ContactAccount.import_id == job
            )
        )
        created = select(Contact.id).where(Contact.workspace_id == ws, Contact.import_id == job)
        session.execute(
            delete(Identity).where(
                Identity.workspace_id == ws,
                (Identity.contact_id.in_(created)) | (Identity.source == f"import:{job}"),
            )
        )
        session.execute(
            delete(ContactAccount).where(
                ContactAccount.workspace_id == ws, ContactAccount.contact_id.in_(created)
            )
        )
        changes = select(ImportChange).where(
            ImportChange.workspace_id == ws, ImportChange.job_id == job
        )
        for change in session.scalars(changes.execution_options(yield_per=1000)):
            before = dict(change.before)
            if before.get("owner_id") is not None:
                before["owner_id"] = int(before["owner_id"])
            session.execute(
                update(Contact)
                .where(Contact.workspace_id == ws, Contact.id == change.contact_id)
                .values(**before)
            )
        session.execute(
            delete(Collision).where(
                Collision.workspace_id == ws,
                Collision.action == "import",
                Collision.actor_id == Options.of(context.payload).by,
                Collision.created_at >= started,  # this import's, not an earlier one's
                Collision.object == "contact",
                Collision.object_id.in_(
                    select(ImportChange.contact_id).where(
                        ImportChange.workspace_id == ws, ImportChange.job_id == job
                    )
                ),
            )
        )
        session.execute(
            delete(ImportChange).where(ImportChange.workspace_id == ws, ImportChange.job_id == job)
        )
        # the stages it set: their history and their events (the values are restored above)
        session.execute(
            delete(StageChange).where(
                StageChange.workspace_id == ws,
                StageChange.cause == "import",
                StageChange.note == f"import:{job}",
            )
        )
        session.execute(
            delete(Event).where(
                Event.workspace_id == ws,
                Event.type == "stage_changed",
                Event.source == f"import:{job}",
            )
        )
        _leave_list(session, ws, context, started, now)
        _forget(session, ws, created)
        session.execute(delete(Contact).where(Contact.workspace_id == ws, Contact.import_id == job))
        imported_accounts = select(Account.id).where(
            Account.workspace_id == ws, Account.import_id == job
        )
        session.execute(
            delete(ContactAccount).where(
                ContactAccount.workspace_id == ws, ContactAccount.account_id.in_(imported_accounts)
            )
        )
        session.execute(delete(Account).where(Account.workspace_id == ws, Account.import_id == job))
        # what derives from the contacts it changed is made again from their restored values
        row = session.get(Job, (ws, job))
        followups.start(session, ws, row.created_by if row else None, now)
    context.progress = {**context.progress, "cancelled": True}
    if kept:
        context.progress["merges_kept"] = kept
    return "cancelled"
