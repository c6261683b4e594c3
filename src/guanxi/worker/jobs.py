"""Job rows and the claim: how work survives a killed worker.

A worker claims one pending job (or a running one whose lease ran out) by setting
``claimed_by`` and ``lease_until``: on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so several
workers never take the same job; on SQLite one worker runs. The handler checkpoints as it goes
(``JobContext.checkpoint`` commits progress and renews the lease; a heartbeat thread renews it
meanwhile, so a slow step is not taken for a dead worker), so a job taken over after a crash
resumes from its last checkpoint.

Fencing: a checkpoint locks the job row and checks that this worker still holds it. A worker
that stalled past its lease (the job went to another) raises ``LeaseLost`` at its next
checkpoint, so the work of that step — committed together with the checkpoint — is rolled
back, and it never writes the job's final status. A job whose lease ran out ``MAX_ATTEMPTS``
times (a step that kills its worker every time) fails instead of being claimed again.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from guanxi.config import get_settings
from guanxi.db import transaction
from guanxi.errors import Conflict, NotFound
from guanxi.i18n import N_
from guanxi.kit.clock import utcnow
from guanxi.models import Job

log = logging.getLogger("guanxi.jobs")
LEASE = timedelta(minutes=2)
HEARTBEAT = 30.0  # seconds between lease renewals while a handler runs
MAX_ATTEMPTS = 5
# unique per process even where containers share a hostname and a pid (the fence relies on it)
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class LeaseLost(RuntimeError):
    """Another worker holds the job now: this one must stop without committing."""


class JobFinished(Conflict):
    code = "job_finished"
    message = N_("The job has finished already.")


@dataclass
class JobContext:
    """What a handler gets: the job's identity and payload, its saved progress, and the
    checkpoint that commits progress, renews the lease and says whether to stop."""

    factory: sessionmaker[Session]
    workspace_id: int
    job_id: int
    payload: dict[str, Any]
    progress: dict[str, Any] = field(default_factory=dict)
    data_dir: Path = field(default_factory=lambda: get_settings().data_dir)
    worker: str = WORKER_ID
    cancel_requested: bool = False  # when claimed: an undoable job then only rolls back

    def checkpoint(self, progress: dict[str, Any], session: Session | None = None) -> bool:
        """Save ``progress`` (in ``session``'s transaction when given, so that the work and its
        checkpoint commit together). Returns True when a cancel was requested."""
        self.progress = progress

        def save(s: Session) -> bool:
            job = held(s, self.workspace_id, self.job_id, self.worker)
            if job is None:
                raise LeaseLost(f"job {self.job_id} is no longer held by {self.worker}")
            job.progress = dict(progress)
            job.lease_until = utcnow() + LEASE
            return bool(job.cancel_requested)

        if session is not None:
            return save(session)
        with transaction(self.factory) as s:
            return save(s)


Handler = Callable[[JobContext], str]
HANDLERS: dict[str, Handler] = {}


UNDOABLE: set[str] = set()


def handler(kind: str, *, undoable: bool = False) -> Callable[[Handler], Handler]:
    """Register the handler of a job kind. ``undoable``: its handler undoes what the job wrote
    when it starts with a cancel requested, so a failed job of this kind can be cancelled too
    (it is queued again to roll back)."""

    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        if undoable:
            UNDOABLE.add(kind)
        return fn

    return register


def enqueue(
    session: Session, workspace_id: int, kind: str, payload: dict[str, Any], created_by: int | None
) -> Job:
    job = Job(
        workspace_id=workspace_id,
        kind=kind,
        payload=payload,
        progress={},
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(job)
    session.flush()
    return job


def request_cancel(session: Session, workspace_id: int, job_id: int) -> Job:
    """Stop a job: one that never ran is cancelled at once, a running one stops at its next
    checkpoint, and a failed one of an undoable kind is queued again to roll back."""
    job = session.get(Job, (workspace_id, job_id))
    if job is None:
        raise NotFound(resource=N_("Job"))
    if job.status == "failed" and job.kind in UNDOABLE:
        job.status, job.claimed_by, job.lease_until, job.attempts = "pending", None, None, 0
        job.finished_at = None
    elif job.status in ("done", "failed", "cancelled"):
        raise JobFinished()
    elif job.status == "pending" and job.started_at is None:
        job.status, job.finished_at = "cancelled", utcnow()
    job.cancel_requested = True
    session.flush()
    return job


def held(session: Session, workspace_id: int, job_id: int, worker: str) -> Job | None:
    """The job, locked, if ``worker`` still holds it (running, claimed by it)."""
    job = session.scalar(
        select(Job)
        .where(Job.workspace_id == workspace_id, Job.id == job_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if job is None or job.status != "running" or job.claimed_by != worker:
        return None
    return job


def claim(session: Session, now: datetime, worker: str = WORKER_ID) -> Job | None:
    stmt = (
        select(Job)
        .where(or_(Job.status == "pending", (Job.status == "running") & (Job.lease_until < now)))
        .order_by(Job.created_at, Job.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    job = session.scalar(stmt)
    while job is not None and job.attempts >= MAX_ATTEMPTS:
        log.error("job abandoned", extra={"job_id": job.id, "kind": job.kind})
        job.status, job.finished_at, job.lease_until = "failed", now, None
        job.error = f"gave up after {job.attempts} attempts: its worker stopped every time"
        session.flush()
        job = session.scalar(stmt)
    if job is None:
        return None
    return take(session, job, now, worker)


def take(session: Session, job: Job, now: datetime, worker: str = WORKER_ID) -> Job:
    """Make ``worker`` the job's holder, with a fresh lease."""
    job.status, job.claimed_by, job.lease_until = "running", worker, now + LEASE
    job.started_at = job.started_at or now
    job.attempts += 1
    session.flush()
    return job


def renew(factory: sessionmaker[Session], workspace_id: int, job_id: int, worker: str) -> bool:
    """Extend the lease if ``worker`` still holds the job; False when it does not."""
    with transaction(factory) as session:
        result = session.execute(
            update(Job)
            .where(
                Job.workspace_id == workspace_id,
                Job.id == job_id,
                Job.claimed_by == worker,
                Job.status == "running",
            )
            .values(lease_until=utcnow() + LEASE)
        )
        return bool(getattr(result, "rowcount", 0))


class Heartbeat(threading.Thread):
    """Renews a running job's lease every ``HEARTBEAT`` seconds, so that one long step (a slow
    batch) is not mistaken for a dead worker; stops when told or when the job was lost."""

    def __init__(self, context: JobContext) -> None:
        super().__init__(name=f"heartbeat-{context.job_id}", daemon=True)
        self.context, self.stopped = context, threading.Event()

    def run(self) -> None:
        c = self.context
        while not self.stopped.wait(HEARTBEAT):
            try:
                if not renew(c.factory, c.workspace_id, c.job_id, c.worker):
                    return
            except Exception:  # a busy database: try again at the next beat
                log.warning("lease renewal failed", extra={"job_id": c.job_id}, exc_info=True)

    def __enter__(self) -> Heartbeat:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.join()


def run_one(
    factory: sessionmaker[Session], data_dir: Path | None = None, worker: str = WORKER_ID
) -> bool:
    """Claim and run one job; False when there was none. Files go under ``data_dir``."""
    with transaction(factory) as session:
        job = claim(session, utcnow(), worker)
        if job is None:
            return False
        context = JobContext(
            factory,
            job.workspace_id,
            job.id,
            dict(job.payload),
            dict(job.progress),
            worker=worker,
            cancel_requested=job.cancel_requested,
        )
        kind = job.kind
    run = HANDLERS.get(kind)
    try:
        if run is None:
            raise RuntimeError(f"no handler for job kind {kind!r}")
        with Heartbeat(context):
            status, error = run(context), None
    except Exception as exc:  # the job fails; the worker goes on
        log.exception("job failed", extra={"job_id": context.job_id, "kind": kind})
        status, error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
    with transaction(factory) as session:
        job = held(session, context.workspace_id, context.job_id, worker)
        if job is None:  # fenced off: another worker has the job now
            log.warning("job lost its lease", extra={"job_id": context.job_id, "kind": kind})
            return True
        job.progress = dict(context.progress)
        job.lease_until = None
        if status == "done" and job.cancel_requested and kind in UNDOABLE:
            # the cancel came after the handler's last checkpoint: queued again to roll back
            job.status, job.claimed_by = "pending", None
            return True
        job.status, job.error, job.finished_at = status, error, utcnow()
    return True
