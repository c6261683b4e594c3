"""The worker's schedule: due tasks run in their own transaction; a failure stops nothing else."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guanxi.models import UserSession
from guanxi.worker.loop import Scheduled, purge_expired_sessions, run_due
from tests.factories import login, make_tenant


def test_expired_sessions_are_purged(app: FastAPI) -> None:
    tenant = make_tenant(app)
    login(TestClient(app), tenant.admin.email)
    with tenant.session() as s:
        s.execute(
            UserSession.__table__.update()
            .where(UserSession.user_id == tenant.admin.user_id)
            .values(expires_at=datetime.now().astimezone() - timedelta(minutes=1))
        )
    ran = run_due(app.state.sessionmaker, [Scheduled("purge", 60, purge_expired_sessions)], clock=0)
    assert ran == 1
    with tenant.session() as s:
        assert (
            s.scalar(select(func.count()).where(UserSession.user_id == tenant.admin.user_id)) == 0
        )


def test_a_failing_task_is_retried_later_and_does_not_stop_others(app: FastAPI) -> None:
    calls: list[str] = []

    def broken(session: Session, now: datetime) -> None:
        calls.append("broken")
        raise RuntimeError("boom")

    def fine(session: Session, now: datetime) -> None:
        calls.append("fine")

    schedule = [Scheduled("broken", 10, broken), Scheduled("fine", 10, fine)]
    assert run_due(app.state.sessionmaker, schedule, clock=100) == 2
    assert calls == ["broken", "fine"]
    assert schedule[0].failures == 1
    assert run_due(app.state.sessionmaker, schedule, clock=105) == 0
    assert run_due(app.state.sessionmaker, schedule, clock=110) == 2
    assert schedule[0].failures == 2
    assert schedule[1].failures == 0
