"""Deliveries against a real receiver: fan-out to subscribers, signatures, retries with backoff,
timeouts and redirects, 410 Gone, the circuit breaker, fencing, keyed queueing and pruning."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from fastapi import FastAPI

from guanxi.auth.permissions import Role
from guanxi.db import transaction
from guanxi.kit.clock import utcnow
from guanxi.webhook import dispatch, fanout, service, tasks
from tests.factories import make_tenant
from tests.tag.client import Api
from tests.webhook.helpers import (
    add_endpoint,
    attempts,
    deliver,
    deliveries,
    endpoint_row,
    event,
    fan_out,
    notes,
)
from tests.webhook.receiver import HANG, Receiver


def test_each_event_goes_to_the_endpoints_subscribed_to_it_signed(
    app: FastAPI, hook: Receiver
) -> None:
    tenant, other = make_tenant(app), make_tenant(app, "Other")
    api = Api(tenant)
    contact = api.contact("张伟")
    views = add_endpoint(api, hook.url, "page_view")
    everything = add_endpoint(api, hook.url)
    forms = add_endpoint(api, hook.url, "form_submit")
    off = add_endpoint(api, hook.url)
    api.patch(f"/webhooks/{off['id']}", {"enabled": False})
    add_endpoint(Api(other), hook.url)  # another workspace's subscriber hears nothing of ours
    now = utcnow()
    view = event(contact, "page_view", now, url="https://example.com/定价")
    note = event(contact, "note", now, text="回电")
    fan_out(tenant, [view, note], now)

    made = {e["id"]: len(deliveries(tenant, e["id"])) for e in (views, everything, forms, off)}
    assert made == {views["id"]: 1, everything["id"]: 2, forms["id"]: 0, off["id"]: 0}
    assert deliveries(other) == []
    deliver(app, now)
    assert len(hook.received) == 3
    secrets = {views["secret"], everything["secret"]}
    by_delivery = {r.delivery: r for r in hook.received}
    for d in deliveries(tenant):
        got = by_delivery[str(d.id)]
        secret = views["secret"] if d.endpoint_id == int(views["id"]) else everything["secret"]
        assert got.verifies(secret, int(now.timestamp()))
        assert not got.verifies(({*secrets} - {secret}).pop(), int(now.timestamp()))
        assert got.headers["guanxi-event"] == d.event_type
        assert abs(int(got.headers["guanxi-timestamp"]) - now.timestamp()) < 5
        assert got.headers["content-type"] == "application/json"
        body = json.loads(got.body)
        assert body["id"] == str(d.id)
        assert body["workspace_id"] == str(tenant.workspace_id)
        assert body["data"]["contact_id"] == contact
        assert (d.status, d.attempts, d.last_status, d.delivered_at) == ("delivered", 1, 200, now)
        [attempt] = attempts(tenant, d.id)
        assert (attempt.n, attempt.status_code, attempt.error) == (1, 200, None)
        assert attempt.ms is not None
    page_views = [
        json.loads(r.body) for r in hook.received if r.headers["guanxi-event"] == "page_view"
    ]
    assert [b["data"]["properties"] for b in page_views] == [
        {"url": "https://example.com/定价"}
    ] * 2
    assert page_views[0]["data"]["event_id"] == str(view.id)


def test_a_failure_is_retried_after_a_backoff_and_then_delivered_once(
    app: FastAPI, hook: Receiver
) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    endpoint = add_endpoint(api, hook.url, "note")
    hook.answer(500)
    now = utcnow()
    fan_out(tenant, [event(api.contact("李娜"), "note", now, text="x")], now)
    deliver(app, now)
    [d] = deliveries(tenant)
    assert (d.status, d.attempts, d.last_status, d.last_error) == ("pending", 1, 500, "HTTP 500")
    assert now + timedelta(seconds=24) <= d.due_at <= now + timedelta(seconds=36)
    failing = api.get(f"/webhooks/{endpoint['id']}")
    assert (failing["status"], failing["failures"]) == ("failing", 1)
    deliver(app, now + timedelta(seconds=20))  # not due yet
    assert len(hook.received) == 1
    deliver(app, now + timedelta(seconds=40))
    [d] = deliveries(tenant)
    assert (d.status, d.attempts, d.delivered_at) == ("delivered", 2, now + timedelta(seconds=40))
    assert [(a.n, a.status_code) for a in attempts(tenant, d.id)] == [(1, 500), (2, 200)]
    assert [r.delivery for r in hook.received] == [str(d.id)] * 2
    assert hook.received[0].body == hook.received[1].body
    healthy = api.get(f"/webhooks/{endpoint['id']}")
    assert (healthy["status"], healthy["failures"], healthy["failing_since"]) == (
        "enabled",
        0,
        None,
    )


def test_retries_back_off_and_run_out(app: FastAPI, hook: Receiver) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    add_endpoint(api, hook.url, "note")
    hook.answer(*[503] * dispatch.MAX_ATTEMPTS)
    now = utcnow()
    fan_out(tenant, [event(api.contact("王芳"), "note", now, text="x")], now)
    waits = []
    for n in range(1, dispatch.MAX_ATTEMPTS + 1):
        deliver(app, now)
        [d] = deliveries(tenant)
        assert d.attempts == n
        if n < dispatch.MAX_ATTEMPTS:
            assert d.status == "pending"
            waits.append((d.due_at - now).total_seconds())
            now = d.due_at
    assert d.status == "failed"
    assert len(hook.received) == dispatch.MAX_ATTEMPTS
    expected = [30, 120, 600, 3600, 6 * 3600, 24 * 3600, 24 * 3600]
    assert all(0.8 * e <= w <= 1.2 * e for w, e in zip(waits, expected, strict=True)), waits
    deliver(app, now + timedelta(days=30))
    assert len(hook.received) == dispatch.MAX_ATTEMPTS


def test_no_answer_and_a_redirect_are_failures(app: FastAPI, hook: Receiver) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    add_endpoint(api, hook.url, "note")
    hook.answer(HANG, 302)
    now = utcnow()
    fan_out(tenant, [event(api.contact("赵强"), "note", now, text="x")], now)
    deliver(app, now)
    [d] = deliveries(tenant)
    assert (d.status, d.last_status) == ("pending", None)
    assert d.last_error == f"no answer within {0.5} s"
    deliver(app, d.due_at)
    [d] = deliveries(tenant)
    assert (d.status, d.last_status) == ("pending", 302)
    assert d.last_error is not None
    assert "/moved not followed" in d.last_error
    assert len(hook.received) == 2  # the redirect was not followed
    tried = attempts(tenant, d.id)
    assert [(a.status_code, a.response) for a in tried] == [(None, None), (302, "answered 302")]


def test_gone_disables_the_endpoint_and_tells_the_administrators(
    app: FastAPI, hook: Receiver
) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    second_admin = tenant.add(Role.admin)
    marketer = tenant.add(Role.marketer)
    endpoint = add_endpoint(api, hook.url, "note")
    hook.answer(410)
    now = utcnow()
    contact = api.contact("钱多")
    fan_out(tenant, [event(contact, "note", now, text="1")], now)
    deliver(app, now)
    fan_out(tenant, [event(contact, "note", now, text="2")], now)  # too late: it is off now
    gone = api.get(f"/webhooks/{endpoint['id']}")
    assert (gone["status"], gone["enabled"], gone["disabled_reason"]) == ("disabled", False, "gone")
    [d] = deliveries(tenant)
    assert (d.status, d.last_status) == ("failed", 410)
    for user in (tenant.admin.user_id, second_admin.user_id):
        [note] = notes(tenant, user)
        assert note.kind == "webhook_disabled"
        assert note.payload["endpoint_id"] == endpoint["id"]
        assert note.payload["reason"] == "gone"
    assert notes(tenant, marketer.user_id) == []


def test_the_circuit_breaker_turns_off_an_endpoint_failing_for_over_a_day(
    app: FastAPI, hook: Receiver
) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    endpoint = add_endpoint(api, hook.url, "note")
    hook.answer(*[500] * 25)
    t0 = utcnow()
    contact = api.contact("孙丽")
    fan_out(tenant, [event(contact, "note", t0, text=str(i)) for i in range(5)], t0)
    for at in (t0, t0 + timedelta(minutes=1), t0 + timedelta(minutes=5)):
        deliver(app, at)
    # 20 failures in a row, but only for 20 minutes: still on
    deliver(app, t0 + timedelta(minutes=20))
    row = endpoint_row(tenant, endpoint["id"])
    assert row is not None
    assert (row.enabled, row.failures, row.failing_since) == (True, 20, t0)
    assert notes(tenant, tenant.admin.user_id) == []

    deliver(app, t0 + timedelta(hours=25))
    row = endpoint_row(tenant, endpoint["id"])
    assert row is not None
    assert (row.enabled, row.failures, row.disabled_reason) == (False, 25, "failing")
    assert row.disabled_at == t0 + timedelta(hours=25)
    assert {d.status for d in deliveries(tenant)} == {"failed"}
    assert {d.last_error for d in deliveries(tenant)} == {service.STOPPED}
    [note] = notes(tenant, tenant.admin.user_id)
    assert (note.payload["reason"], note.payload["failures"]) == ("failing", 25)

    # a disabled endpoint gets nothing new, and nothing of what it had is sent
    fan_out(tenant, [event(contact, "note", t0, text="later")], t0 + timedelta(hours=26))
    assert len(deliveries(tenant)) == 5
    deliver(app, t0 + timedelta(days=30))
    assert len(hook.received) == 25

    # on again: counted afresh; what failed can be sent again
    back = api.patch(f"/webhooks/{endpoint['id']}", {"enabled": True})
    assert (back["status"], back["failures"], back["disabled_reason"]) == ("enabled", 0, None)
    first = deliveries(tenant)[0]
    api.post(f"/webhook-deliveries/{first.id}/redeliver", expect=202)
    deliver(app, utcnow())
    assert deliveries(tenant)[0].status == "delivered"
    assert len(attempts(tenant, first.id)) == 6


def test_a_worker_that_lost_its_lease_records_nothing(app: FastAPI, hook: Receiver) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    add_endpoint(api, hook.url, "note")
    now = utcnow() - timedelta(days=3650)  # first in line, whatever other tests left due
    fan_out(tenant, [event(api.contact("周杰"), "note", now, text="x")], now)
    factory, key = app.state.sessionmaker, app.state.settings.secret_key
    with transaction(factory) as s:
        [slow] = dispatch.claim(s, now, "worker-a", key, limit=1)
    later = now + dispatch.LEASE + timedelta(seconds=1)
    with transaction(factory) as s:
        [quick] = dispatch.claim(s, later, "worker-b", key, limit=1)
    assert (quick.delivery_id, quick.attempt) == (slow.delivery_id, 2)
    allowed = app.state.settings.webhook_allowed_networks
    [answer_a] = dispatch.send_all([slow], now, allowed=allowed)
    with transaction(factory) as s:
        dispatch.record(s, [answer_a], now, "worker-a")
    [d] = deliveries(tenant)
    assert (d.status, d.claimed_by) == ("delivering", "worker-b")
    assert attempts(tenant, d.id) == []
    with transaction(factory) as s:
        dispatch.record(s, dispatch.send_all([quick], later, allowed=allowed), later, "worker-b")
    [d] = deliveries(tenant)
    assert (d.status, d.attempts) == ("delivered", 2)
    assert [a.n for a in attempts(tenant, d.id)] == [2]


def test_a_delivery_whose_worker_dies_every_time_is_given_up(app: FastAPI, hook: Receiver) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    add_endpoint(api, hook.url, "note")
    now = utcnow() - timedelta(days=3651)  # first in line
    fan_out(tenant, [event(api.contact("冯雷"), "note", now, text="x")], now)
    factory, key = app.state.sessionmaker, app.state.settings.secret_key
    for n in range(1, dispatch.MAX_ATTEMPTS + 1):  # each worker dies before it records
        with transaction(factory) as s:
            [out] = dispatch.claim(s, now, f"worker-{n}", key, limit=1)
        assert out.attempt == n
        now += dispatch.LEASE + timedelta(seconds=1)
    with transaction(factory) as s:
        dispatch.claim(s, now, "worker-last", key, limit=1)
    [d] = deliveries(tenant)
    assert (d.status, d.last_error, d.claimed_by) == ("failed", dispatch.ABANDONED, None)
    assert hook.received == []


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # one worker on SQLite
def test_two_workers_never_send_one_delivery_twice(app: FastAPI, hook: Receiver) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    add_endpoint(api, hook.url, "note")
    now = utcnow()
    contact = api.contact("林峰")
    fan_out(tenant, [event(contact, "note", now, text=str(i)) for i in range(40)], now)
    workers = [
        threading.Thread(target=deliver, args=(app, now), kwargs={"worker": w, "limit": 5})
        for w in ("worker-a", "worker-b", "worker-c")
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    sent = [r.delivery for r in hook.received]
    assert sorted(sent) == sorted({str(d.id) for d in deliveries(tenant)})
    outcomes = {(d.status, d.attempts, d.last_error) for d in deliveries(tenant)}
    assert outcomes == {("delivered", 1, None)}


def test_queue_sends_once_per_key_and_only_to_an_enabled_endpoint(
    app: FastAPI, hook: Receiver
) -> None:
    tenant, other = make_tenant(app), make_tenant(app, "Other")
    api = Api(tenant)
    endpoint = add_endpoint(api, hook.url, "page_view")
    theirs = add_endpoint(Api(other), hook.url)
    ws, ep = tenant.workspace_id, int(endpoint["id"])
    with tenant.session() as s:
        first = fanout.queue(s, ws, ep, "journey.webhook", {"step": 1}, key="e1:n1:0")
        again = fanout.queue(s, ws, ep, "journey.webhook", {"step": 1}, key="e1:n1:0")
        unkeyed = fanout.queue(s, ws, ep, "journey.webhook", {"step": 2})
        assert fanout.queue(s, ws, int(theirs["id"]), "journey.webhook", {}) is None
    assert first == again
    assert unkeyed not in (None, first)
    deliver(app, utcnow())
    bodies = sorted(json.loads(r.body)["data"]["step"] for r in hook.received)
    assert bodies == [1, 2]
    assert deliveries(other) == []
    api.patch(f"/webhooks/{ep}", {"enabled": False})
    with tenant.session() as s:
        assert fanout.queue(s, ws, ep, "journey.webhook", {"step": 3}, key="e1:n2:0") is None
    assert len(deliveries(tenant)) == 2


def test_finished_deliveries_are_pruned_after_thirty_days(app: FastAPI, hook: Receiver) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    add_endpoint(api, hook.url, "note")
    hook.answer(500)
    old = utcnow() - timedelta(days=40)
    contact = api.contact("吴昊")
    fan_out(tenant, [event(contact, "note", old, text=str(i)) for i in range(2)], old)
    deliver(app, old)  # one delivered, one waiting for its retry
    fan_out(tenant, [event(contact, "note", utcnow(), text="new")], utcnow())
    before = deliveries(tenant)
    [done] = [d for d in before if d.status == "delivered"]
    assert len(attempts(tenant, done.id)) == 1
    with tenant.session() as s:
        tasks.purge(s, utcnow())
    assert {d.id for d in deliveries(tenant)} == {d.id for d in before} - {done.id}
    assert attempts(tenant, done.id) == []
