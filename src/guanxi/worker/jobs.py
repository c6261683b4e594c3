"""Job rows and the claim: how work survives a killed worker.

A worker claims one pending job (or a running one whose lease ran out) by setting
``claimed_by`` and ``lease_until``: on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so several
workers never take the same job; on SQLite one worker runs. The handler checkpoints as it goes
(``JobContext.checkpoint`` commits progress and renews the lease), so a job taken over after a
crash resumes from its last checkpoint.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from guanxi.config import get_settings
from guanxi.db import transaction
from guanxi.errors import Conflict, NotFound
from guanxi.i18n import N_
from guanxi.kit.clock import utcnow
from guanxi.models import Job

log = logging.getLogger("guanxi.jobs")
LEASE = timedelta(minutes=2)
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


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

    def checkpoint(self, progress: dict[str, Any], session: Session | None = None) -> bool:
        """Save ``progress`` (in ``session``'s transaction when given, so that the work and its
        checkpoint commit together). Returns True when a cancel was requested."""
        self.progress = progress

        def save(s: Session) -> bool:
            job = s.get(Job, (self.workspace_id, self.job_id))
            assert job is not None
            job.progress = dict(progress)
            job.lease_until = utcnow() + LEASE
            return bool(job.cancel_requested)

        if session is not None:
            return save(session)
        with transaction(self.factory) as s:
            return save(s)


Handler = Callable[[JobContext], str]
HANDLERS: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
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
    job = session.get(Job, (workspace_id, job_id))
    if job is None:
        raise NotFound(resource=N_("Job"))
    if job.status in ("done", "failed", "cancelled"):
        raise JobFinished()
    if job.status == "pending":
        job.status, job.finished_at = "cancelled", utcnow()
    job.cancel_requested = True
    session.flush()
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
    if job is None:
        return None
    job.status, job.claimed_by, job.lease_until = "running", worker, now + LEASE
    job.started_at = job.started_at or now
    job.attempts += 1
    session.flush()
    return job


def run_one(factory: sessionmaker[Session], data_dir: Path | None = None) -> bool:
    """Claim and run one job; False when there was none. Files go under ``data_dir``."""
    with transaction(factory) as session:
        job = claim(session, utcnow())
        if job is None:
            return False
        context = JobContext(
            factory, job.workspace_id, job.id, dict(job.payload), dict(job.progress)
        )
        kind = job.kind
    run = HANDLERS.get(kind)
    try:
        if run is None:
            raise RuntimeError(f"no handler for job kind {kind!r}")
        status, error = run(context), None
    except Exception as exc:  # the job fails; the worker goes on
        log.exception("job failed", extra={"job_id": context.job_id, "kind": kind})
        status, error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
    with transaction(factory) as session:
        job = session.get(Job, (context.workspace_id, context.job_id))
        assert job is not None
        job.status, job.error, job.finished_at = status, error, utcnow()
        job.progress = dict(context.progress)
        job.lease_until = None
    return True
