"""Job claims and fencing: a worker that lost its job commits nothing more; a job that kills
its worker every time is given up."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from guanxi.db import transaction
from guanxi.kit.clock import utcnow
from guanxi.models import Contact, Job
from guanxi.worker import jobs
from tests.factories import Tenant, make_tenant


def contacts(tenant: Tenant) -> list[str]:
    with tenant.session() as s:
        return list(
            s.scalars(
                select(Contact.name)
                .where(Contact.workspace_id == tenant.workspace_id)
                .order_by(Contact.name)
            )
        )


@jobs.handler("test_two_steps")
def two_steps(context: jobs.JobContext) -> str:
    """Two steps, each a contact written with its checkpoint; between them ``pause`` runs."""
    for step in ("first", "second"):
        if step == "second":
            PAUSE[0](context)
        with transaction(context.factory) as s:
            s.add(Contact(workspace_id=context.workspace_id, name=step, status="active"))
            s.flush()
            context.checkpoint({"step": step}, s)
    return "done"


PAUSE: list[Any] = [lambda context: None]


def enqueue(tenant: Tenant) -> int:
    """A two-step job, first in line (other tests on this database leave jobs waiting)."""
    with tenant.session() as s:
        job = jobs.enqueue(s, tenant.workspace_id, "test_two_steps", {}, None)
        job.created_at = utcnow() - timedelta(days=3650)
        return job.id


def test_a_worker_whose_job_was_taken_over_commits_nothing_more(app: FastAPI) -> None:
    tenant = make_tenant(app)
    job_id = enqueue(tenant)

    def stall(context: jobs.JobContext) -> None:
        # the worker stalls past its lease and another worker claims the job meanwhile
        with tenant.session() as s:
            row = s.get(Job, (tenant.workspace_id, job_id))
            assert row is not None
            row.lease_until = utcnow() - timedelta(seconds=1)
        with tenant.session() as s:
            taken = jobs.claim(s, utcnow(), worker="other-worker")
            assert taken is not None
            assert taken.id == job_id

    PAUSE[0] = stall
    try:
        assert jobs.run_one(app.state.sessionmaker, worker="stalled-worker")
    finally:
        PAUSE[0] = lambda context: None
    assert contacts(tenant) == ["first"]  # the second step was rolled back
    with tenant.session() as s:
        row = s.get(Job, (tenant.workspace_id, job_id))
        assert row is not None
        # the stalled worker wrote no final status over the new holder's job
        assert (row.status, row.claimed_by, row.progress) == (
            "running",
            "other-worker",
            {"step": "first"},
        )


def test_a_job_that_keeps_killing_its_worker_is_given_up(app: FastAPI) -> None:
    tenant = make_tenant(app)
    job_id = enqueue(tenant)
    with tenant.session() as s:
        row = s.get(Job, (tenant.workspace_id, job_id))
        assert row is not None
        row.status, row.attempts, row.claimed_by = "running", jobs.MAX_ATTEMPTS, "dead-worker"
        row.lease_until = utcnow() - timedelta(seconds=1)
        row.created_at = utcnow() - timedelta(days=3650)  # first in line
    with tenant.session() as s:
        taken = jobs.claim(s, utcnow())  # goes on to the next job in line, if there is one
        assert taken is None or taken.id != job_id
    with tenant.session() as s:
        row = s.get(Job, (tenant.workspace_id, job_id))
        assert row is not None
        assert row.status == "failed"
        assert row.error is not None
        assert "attempts" in row.error
        assert (
            s.scalar(select(func.count()).where(Contact.workspace_id == tenant.workspace_id)) == 0
        )


@jobs.handler("test_slow_step")
def slow_step(context: jobs.JobContext) -> str:
    """One step longer than the lease; halfway through another worker tries to claim the job."""
    time.sleep(0.7)
    with transaction(context.factory) as s:
        stolen = jobs.claim(s, utcnow(), worker="impatient-worker")
        context.progress["stolen"] = stolen is not None and stolen.id == context.job_id
    time.sleep(0.7)
    context.checkpoint({"step": "slow", **context.progress})
    return "done"


def test_the_heartbeat_keeps_a_slow_step_s_job(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(app)
    monkeypatch.setattr(jobs, "LEASE", timedelta(milliseconds=500))
    monkeypatch.setattr(jobs, "HEARTBEAT", 0.1)
    with tenant.session() as s:
        job_id = jobs.enqueue(s, tenant.workspace_id, "test_slow_step", {}, None).id
        row = s.get(Job, (tenant.workspace_id, job_id))
        assert row is not None
        row.created_at = utcnow() - timedelta(days=3650)  # first in line
    assert jobs.run_one(app.state.sessionmaker, worker="slow-worker")
    with tenant.session() as s:
        row = s.get(Job, (tenant.workspace_id, job_id))
        assert row is not None
        assert (row.status, row.claimed_by) == ("done", "slow-worker")
        assert row.progress == {"step": "slow", "stolen": False}
