"""Batch ingestion (E1) through the API: per-event results, idempotent retries, rejected events
that leave nothing behind, identity resolution, and a server killed mid-batch."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from guanxi.models import Contact, Event, EventKey
from tests.factories import Tenant, make_tenant


def post(client: TestClient, tenant: Tenant, events: list[Any], **extra: Any) -> dict[str, Any]:
    r = client.post(
        "/api/v1/events/batch", json={"events": events, **extra}, headers=tenant.admin.auth
    )
    assert r.status_code == 200, r.text
    return r.json()


def count_events(tenant: Tenant) -> int:
    with tenant.session() as s:
        return s.scalar(
            select(func.count()).select_from(Event).where(Event.workspace_id == tenant.workspace_id)
        )


def good(i: int) -> dict[str, Any]:
    return {
        "type": "page_view",
        "occurred_at": "2026-10-01T08:00:00+08:00",
        "properties": {"url": f"https://shop.example.cn/p/{i}", "title": f"商品 {i}"},
        "identities": [{"kind": "phone", "value": f"1380000{i % 50:04d}"}],
        "idempotency_key": f"pv-{i}",
    }


def test_a_retried_batch_stores_nothing_twice(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    batch = [good(i) for i in range(120)]
    first = post(client, tenant, batch)
    assert (first["accepted"], first["duplicates"], first["rejected"]) == (120, 0, 0)
    again = post(client, tenant, batch)
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 120, 0)
    # a duplicate names the event stored the first time
    assert [r["event_id"] for r in again["results"]] == [r["event_id"] for r in first["results"]]
    assert count_events(tenant) == 120
    with tenant.session() as s:  # 50 distinct phones: 50 people
        people = s.scalar(
            select(func.count())
            .select_from(Contact)
            .where(Contact.workspace_id == tenant.workspace_id)
        )
    assert people == 50


def test_invalid_events_are_rejected_with_index_and_reason(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    client.post(
        "/api/v1/event-types",
        json={
            "name": "webinar_poll",
            "label": "投票",
            "properties": [{"name": "answer", "kind": "string", "required": True}],
        },
        headers=tenant.admin.auth,
    )
    bad: dict[int, tuple[Any, str]] = {
        3: ({"type": "no_such_type", "anonymous_id": "a1"}, "unknown_event_type"),
        7: ({"type": "page_view", "anonymous_id": "a1"}, "invalid_properties"),  # url missing
        11: (
            {"type": "order", "contact_id": "1", "properties": {"order_id": "o", "amount": "9"}},
            "invalid_properties",
        ),
        15: (
            {"type": "tag_added", "anonymous_id": "a", "properties": {"tag": "x"}},
            "reserved_event_type",
        ),
        19: ({"type": "note", "properties": {"text": "who?"}}, "no_person"),
        23: (
            {
                "type": "note",
                "properties": {"text": "x"},
                "identities": [{"kind": "phone", "value": "12"}],
            },
            "invalid_identity",
        ),
        27: (
            {
                "type": "note",
                "properties": {"text": "x"},
                "anonymous_id": "a",
                "occurred_at": "2999-01-01T00:00:00Z",
            },
            "event_in_future",
        ),
        31: ({"type": "Bad Type!", "anonymous_id": "a"}, "invalid_event"),
        35: ("not an object", "invalid_event"),
        39: ({"type": "webinar_poll", "anonymous_id": "a"}, "invalid_properties"),
    }
    events: list[Any] = []
    for i in range(50):
        events.append(bad[i][0] if i in bad else good(i))
    events[40] = {
        "type": "webinar_poll",
        "anonymous_id": "visitor-9",
        "properties": {"answer": "B"},
    }
    out = post(client, tenant, events)
    assert (out["accepted"], out["duplicates"], out["rejected"]) == (40, 0, 10)
    for r in out["results"]:
        if r["index"] in bad:
            assert r["status"] == "rejected", r
            assert r["error"]["code"] == bad[r["index"]][1], r
            assert r["error"]["message"]
        else:
            assert r["status"] == "accepted", r
            assert r["event_id"], r
            assert r["contact_id"], r
    assert count_events(tenant) == 40
    # a rejected event claims no idempotency key: fixed and sent again, it is stored
    fixed = dict(bad[7][0], properties={"url": "/x"}, idempotency_key="fix-7")
    with tenant.session() as s:
        keys = s.scalar(
            select(func.count())
            .select_from(EventKey)
            .where(EventKey.workspace_id == tenant.workspace_id)
        )
    assert keys == 40 - 1  # event 40 carries no key
    assert post(client, tenant, [fixed])["accepted"] == 1


def test_messages_follow_the_reader_language(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    r = client.post(
        "/api/v1/events/batch",
        json={"events": [{"type": "page_view", "anonymous_id": "a"}]},
        headers={**tenant.admin.auth, "Accept-Language": "zh-CN"},
    )
    message = r.json()["results"][0]["error"]["message"]
    assert "url" in message
    assert "page_view" in message
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message), message


def test_identities_in_one_batch_resolve_and_merge(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    events = [
        {"type": "page_view", "anonymous_id": "anon-1", "properties": {"url": "/a"}},
        {"type": "page_view", "anonymous_id": "anon-1", "properties": {"url": "/b"}},
        {
            "type": "follow",
            "identities": [
                {"kind": "wechat_openid", "namespace": "wx_oa", "value": "o-1"},
                {"kind": "wechat_unionid", "value": "u-1"},
            ],
        },
        {  # the form proves anon-1 and the follower are one person
            "type": "form_submit",
            "anonymous_id": "anon-1",
            "identities": [{"kind": "wechat_unionid", "value": "u-1"}],
            "properties": {"form_id": "f"},
        },
    ]
    out = post(client, tenant, events)
    contacts = {r["contact_id"] for r in out["results"]}
    assert out["accepted"] == 4, out
    assert len(contacts) == 1, out
    timeline = client.get(
        f"/api/v1/contacts/{contacts.pop()}/timeline", headers=tenant.admin.auth
    ).json()["items"]
    assert sorted(e["type"] for e in timeline if e["type"] != "profile_updated") == [
        "follow",
        "form_submit",
        "page_view",
        "page_view",
    ]  # (the merge's profile_updated records what it wrote, not something the person did)


def test_conflicting_identities_reject_only_that_event(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    setup = [
        {
            "type": "follow",
            "identities": [
                {"kind": "wechat_unionid", "value": "u-a"},
                {"kind": "phone", "value": "13900000001"},
            ],
        },
        {
            "type": "follow",
            "identities": [
                {"kind": "wechat_unionid", "value": "u-b"},
                {"kind": "phone", "value": "13900000002"},
            ],
        },
    ]
    post(client, tenant, setup)
    before = count_events(tenant)
    out = post(
        client,
        tenant,
        [
            {
                "type": "note",
                "properties": {"text": "ok"},
                "identities": [{"kind": "phone", "value": "13900000001"}],
            },
            {  # two unionids: two people
                "type": "note",
                "properties": {"text": "clash"},
                "identities": [
                    {"kind": "phone", "value": "13900000001"},
                    {"kind": "phone", "value": "13900000002"},
                ],
            },
        ],
    )
    assert [r["status"] for r in out["results"]] == ["accepted", "rejected"]
    assert out["results"][1]["error"]["code"] == "identity_conflict"
    assert count_events(tenant) == before + 1


def test_contact_id_follows_a_merge_and_unknown_ids_are_rejected(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    h = tenant.admin.auth
    a = client.post("/api/v1/contacts", json={"name": "A"}, headers=h).json()["id"]
    b = client.post("/api/v1/contacts", json={"name": "B"}, headers=h).json()["id"]
    client.post(f"/api/v1/contacts/{a}/merge", json={"other_id": b}, headers=h)
    out = post(
        client,
        tenant,
        [
            {"type": "call", "contact_id": b},
            {"type": "call", "contact_id": "999999999"},
        ],
    )
    assert out["results"][0]["contact_id"] == a
    assert out["results"][1]["error"]["code"] == "unknown_contact"


def test_more_than_a_thousand_events_is_refused(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    r = client.post(
        "/api/v1/events/batch",
        json={"events": [good(i) for i in range(1001)]},
        headers=tenant.admin.auth,
    )
    assert r.status_code == 422
    assert count_events(tenant) == 0


def test_a_viewer_and_a_team_scoped_rep_cannot_ingest(app: FastAPI) -> None:
    from guanxi.auth.permissions import Role

    tenant, client = make_tenant(app), TestClient(app)
    sdr = tenant.add(Role.sdr)  # team scope: resolution spans the workspace
    r = client.post("/api/v1/events/batch", json={"events": [good(1)]}, headers=sdr.auth)
    assert r.status_code == 403
    assert count_events(tenant) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(database_url: str, data_dir: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GUANXI_DATABASE_URL": database_url,
        "GUANXI_DATA_DIR": data_dir,
        "GUANXI_SECRET_KEY": "test-secret-key-not-used-anywhere-else",
    }
    proc = subprocess.Popen(  # noqa: S603 - our own entry point
        [os.path.join(os.path.dirname(sys.executable), "guanxi"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


def test_a_server_killed_mid_batch_loses_nothing_on_retry(
    app: FastAPI, database_url: str, tmp_path: Any
) -> None:
    tenant = make_tenant(app)
    batches = [
        [
            {
                "type": "page_view",
                "anonymous_id": f"kill-{b}-{i}",
                "properties": {"url": f"/k/{b}/{i}"},
                "idempotency_key": f"kill-{b}-{i}",
            }
            for i in range(1000)
        ]
        for b in range(10)
    ]
    port = _free_port()
    proc = _serve(database_url, str(tmp_path), port)
    url = f"http://127.0.0.1:{port}/api/v1/events/batch"
    answer: dict[str, Any] = {}

    def send() -> None:  # a client sending one batch after another, killed in the middle
        try:
            for batch in batches:
                httpx.post(url, json={"events": batch}, headers=tenant.admin.auth, timeout=60)
        except httpx.TransportError as exc:
            answer["error"] = exc

    thread = threading.Thread(target=send)
    thread.start()
    time.sleep(0.8)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    thread.join(30)
    assert "error" in answer, "every batch finished before the kill: make them slower"
    stored = count_events(tenant)
    assert stored % 1000 == 0  # a batch is one transaction: all or nothing
    assert stored < 10_000

    proc = _serve(database_url, str(tmp_path), port)
    try:
        for batch in batches:  # the client retries everything it is not sure of
            r = httpx.post(url, json={"events": batch}, headers=tenant.admin.auth, timeout=120)
            assert r.status_code == 200, r.text
            assert r.json()["rejected"] == 0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    assert count_events(tenant) == 10_000
    with tenant.session() as s:
        urls = s.scalars(
            select(Event.properties).where(Event.workspace_id == tenant.workspace_id)
        ).all()
    assert sorted(p["url"] for p in urls) == sorted(
        f"/k/{b}/{i}" for b in range(10) for i in range(1000)
    )


def test_two_requests_meeting_the_same_new_visitor_both_store(app: FastAPI) -> None:
    """A browser's beacons can arrive together for a visitor not seen before: the second
    transaction's identity insert meets the first's (unique index) and resolves again."""
    from guanxi.event import ingest
    from guanxi.kit.clock import utcnow

    tenant = make_tenant(app)
    factory = app.state.sessionmaker
    event = {"type": "page_view", "anonymous_id": "racing-visitor", "properties": {"url": "/r"}}
    first = factory()
    ingest.ingest(first, tenant.workspace_id, [event], source="web", now=utcnow())
    outcome: dict[str, Any] = {}

    def second() -> None:
        s = factory()
        try:
            outcome["results"] = ingest.ingest(
                s, tenant.workspace_id, [event], source="web", now=utcnow()
            )
            s.commit()
        except Exception as exc:  # reported below
            outcome["error"] = exc
            s.rollback()
        finally:
            s.close()

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.5)  # the second is now waiting on the first's uncommitted identity
    first.commit()
    first.close()
    thread.join(30)
    assert "error" not in outcome, outcome
    assert outcome["results"][0].status == "accepted"
    assert count_events(tenant) == 2
    with tenant.session() as s:
        people = s.scalar(
            select(func.count())
            .select_from(Contact)
            .where(Contact.workspace_id == tenant.workspace_id)
        )
    assert people == 1


def test_values_no_database_can_hold_are_rejected_per_event(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    events = [
        {"type": "note", "anonymous_id": "v-nul-1", "properties": {"text": "a\x00b"}},
        {"type": "custom", "anonymous_id": "v-nan-1", "properties": {"x": float("nan")}},
        {"type": "custom", "anonymous_id": "v-inf-1", "properties": {"x": float("inf")}},
        {"type": "note", "anonymous_id": "   ", "properties": {"text": "blank visitor"}},
        {
            "type": "note",
            "identities": [{"kind": "email", "value": "a\x00@x.cn"}],
            "properties": {"text": "x"},
        },
        {"type": "custom", "anonymous_id": "v-big-1", "properties": {"x": "y" * 40_000}},
        {"type": "note", "anonymous_id": "v-ok-1", "properties": {"text": "fine"}},
    ]
    import json as jsonlib

    r = client.post(
        "/api/v1/events/batch",
        content=jsonlib.dumps({"events": events}),  # NaN and Infinity as JSON allows them
        headers={**tenant.admin.auth, "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    codes = [x["error"]["code"] if x["error"] else x["status"] for x in r.json()["results"]]
    assert codes == [
        "invalid_properties",
        "invalid_properties",
        "invalid_properties",
        "invalid_identity",
        "invalid_identity",
        "invalid_properties",
        "accepted",
    ]
    assert count_events(tenant) == 1


def test_concurrent_batches_with_the_same_keys_in_any_order(app: FastAPI) -> None:
    tenant = make_tenant(app)
    batch = [good(i) for i in range(1000)]
    outcomes: list[int] = []

    def send(events: list[Any]) -> None:
        client = TestClient(app)
        for _ in range(3):
            r = client.post(
                "/api/v1/events/batch", json={"events": events}, headers=tenant.admin.auth
            )
            outcomes.append(r.status_code)

    threads = [threading.Thread(target=send, args=(b,)) for b in (batch, batch[::-1])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes == [200] * 6
    assert count_events(tenant) == 1000
