"""An event that arrives while a runner holds the enrolment it concerns is not missed: the
enrolment was already due, so the reactor records a wake and the next round applies it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from guanxi.db import transaction
from guanxi.journey import wakes
from guanxi.kit.clock import utcnow
from guanxi.models import JourneyEnrolment, JourneyWake
from tests.factories import Tenant, make_tenant
from tests.journey.test_runner import DAY, edge, enrolments, event, journey, node, tags_of
from tests.message.support import contact, run_journeys


def _waiting(tenant: Tenant) -> tuple[str, str]:
    """A journey waiting a week for a form; one contact enrolled and waiting."""
    got = int(tenant.call("POST", "/tags", json={"name": "已提交"})["id"])
    late = int(tenant.call("POST", "/tags", json={"name": "超时"})["id"])
    graph = {
        "nodes": [
            node("start", "entry", trigger={"type": "manual"}),
            node("await", "wait", mode="event", event_type="form_submit", timeout_s=7 * DAY),
            node("got", "tag", add=[got]),
            node("late", "tag", add=[late]),
        ],
        "edges": [
            edge("start", "await"),
            edge("await", "got", "event"),
            edge("await", "late", "timeout"),
        ],
    }
    jid = journey(tenant, graph)
    who = contact(tenant, name="林")
    tenant.call("POST", f"/journeys/{jid}/enrolments", json={"contact_ids": [who]})
    run_journeys(tenant.app, utcnow())
    return jid, who


def _set_due(tenant: Tenant, at: datetime) -> None:
    with tenant.session() as s:
        s.execute(
            update(JourneyEnrolment)
            .where(JourneyEnrolment.workspace_id == tenant.workspace_id)
            .values(due_at=at)
        )


def _wakes(tenant: Tenant) -> list[tuple[int, int]]:
    with tenant.session() as s:
        rows = s.execute(
            select(JourneyWake.journey_id, JourneyWake.contact_id).where(
                JourneyWake.workspace_id == tenant.workspace_id
            )
        )
        return [(r.journey_id, r.contact_id) for r in rows]


def test_an_event_for_an_enrolment_a_runner_holds_is_applied_next_round(app: FastAPI) -> None:
    tenant = make_tenant(app)
    jid, who = _waiting(tenant)
    [waiting] = enrolments(tenant, jid)
    assert waiting["node_id"] == "await"

    # a runner has claimed it (it was due) and read the contact's events: none yet …
    _set_due(tenant, utcnow() - timedelta(seconds=1))
    event(tenant, who, "form_submit", form_id="7")  # … the form arrives meanwhile …
    assert _wakes(tenant) == [(int(jid), int(who))]
    # … and the runner, not having seen it, puts the enrolment back to wait a week
    _set_due(tenant, utcnow() + timedelta(days=7))

    run_journeys(app, utcnow())
    [moved] = enrolments(tenant, jid)
    assert (moved["status"], moved["node_id"]) == ("done", "got")
    assert tags_of(tenant, who) == ["已提交"]
    assert _wakes(tenant) == []


def test_a_waiting_enrolment_is_woken_directly_without_a_wake_row(app: FastAPI) -> None:
    tenant = make_tenant(app)
    _, who = _waiting(tenant)
    event(tenant, who, "form_submit", form_id="7")
    assert _wakes(tenant) == []
    run_journeys(app, utcnow())
    assert tags_of(tenant, who) == ["已提交"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_wake_waits_while_another_runner_holds_the_enrolment(app: FastAPI) -> None:
    tenant = make_tenant(app)
    jid, who = _waiting(tenant)
    _set_due(tenant, utcnow() - timedelta(seconds=1))
    event(tenant, who, "form_submit", form_id="7")
    _set_due(tenant, utcnow() + timedelta(days=7))
    factory = app.state.sessionmaker
    with transaction(factory) as holder:  # another runner's claim
        holder.execute(
            select(JourneyEnrolment)
            .where(JourneyEnrolment.workspace_id == tenant.workspace_id)
            .with_for_update()
        )
        with transaction(factory) as s:
            assert wakes.apply(s, utcnow()) == 0  # skipped, not waited for
        assert _wakes(tenant) == [(int(jid), int(who))]
    with transaction(factory) as s:
        assert wakes.apply(s, utcnow()) == 1
    [due] = enrolments(tenant, jid)
    assert datetime.fromisoformat(due["due_at"]) <= utcnow()
    assert _wakes(tenant) == []
