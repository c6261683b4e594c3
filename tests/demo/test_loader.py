"""The demo workspace: every role present, refreshable without duplicates."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.db import transaction
from guanxi.demo.loader import load_demo
from guanxi.kit.clock import utcnow
from tests.message.support import dispatch, run_journeys


def test_demo_loads_and_refreshes(app: FastAPI) -> None:
    with transaction(app.state.sessionmaker) as s:
        first = load_demo(s, "first-password")
    with transaction(app.state.sessionmaker) as s:
        again = load_demo(s, "second-password")
    assert first.workspace_id == again.workspace_id
    assert first.members == again.members
    client = TestClient(app)
    assert (
        client.post(
            "/api/v1/auth/login", json={"email": first.email, "password": "first-password"}
        ).status_code
        == 401
    )
    r = client.post(
        "/api/v1/auth/login", json={"email": first.email, "password": "second-password"}
    )
    assert r.status_code == 200
    users = client.get("/api/v1/users?limit=200").json()["items"]
    assert len(users) == again.members
    assert {u["role"] for u in users} == {"admin", "marketer", "sdr", "sales", "cs", "viewer"}
    departments = client.get("/api/v1/departments").json()["items"]
    assert len(departments) == 5
    assert any(d["parent_id"] for d in departments)
    # customers: B2B accounts with buying committees (an org chart), B2C consumers with events
    accounts = client.get("/api/v1/accounts?limit=200").json()["items"]
    assert len(accounts) == 24
    chart = client.get(f"/api/v1/accounts/{accounts[0]['id']}/contacts").json()
    assert chart[0]["role"] == "decision_maker"
    assert chart[0]["reports"]
    contacts = client.get("/api/v1/contacts?stage=subscriber&limit=200").json()["items"]
    assert 100 < len(contacts) < 160  # the consumers, but those the MQL rule moved on
    # tags, scores, lifecycle and segments: set up first, so the demo's events filled them
    models = {m["name"]: m for m in client.get("/api/v1/scoring/models").json()}
    assert set(models) == {"活跃度 Engagement", "匹配度 Fit", "线索评分 Lead score"}
    segments = {s["name"]: s for s in client.get("/api/v1/segments").json()}
    assert segments["热线索 Hot leads"]["member_count"] > 0
    assert segments["展会访客 Expo visitors"]["member_count"] > 0
    assert segments["VIP 名单"]["member_count"] == 0
    promoted = client.get("/api/v1/contacts?stage=mql&limit=200").json()["items"]
    assert any(
        c["cause"] == "rule"
        for p in promoted
        for c in client.get(f"/api/v1/contacts/{p['id']}/stages").json()["items"]
    )
    assert any(
        client.get(f"/api/v1/contacts/{c['id']}/timeline").json()["items"] for c in contacts[:5]
    )


def test_the_demo_has_a_form_and_a_tracked_article(app: FastAPI) -> None:
    with transaction(app.state.sessionmaker) as s:
        login = load_demo(s, "demo-password")
    with transaction(app.state.sessionmaker) as s:
        load_demo(s, "demo-password")  # again: nothing doubles
    client = TestClient(app)
    client.post("/api/v1/auth/login", json={"email": login.email, "password": "demo-password"})
    forms = client.get("/api/v1/forms").json()
    assert [f["name"] for f in forms] == ["预约演示 Book a demo"]
    assert client.get(f"/f/{forms[0]['public_key']}").status_code == 200
    [article] = client.get("/api/v1/content").json()
    [link] = client.get(f"/api/v1/content/{article['id']}/links").json()
    page = client.get(
        link["url"].removeprefix("http://testserver"),
        headers={"User-Agent": "Mozilla/5.0 Chrome/131"},
    )
    assert "私域的起点是一次扫码" in page.text


def test_the_demo_journeys_run_on_the_sandbox(app: FastAPI) -> None:
    with transaction(app.state.sessionmaker) as s:
        login = load_demo(s, "demo-password")
    client = TestClient(app)
    client.post("/api/v1/auth/login", json={"email": login.email, "password": "demo-password"})
    listed = {j["name"]: j for j in client.get("/api/v1/journeys").json()}
    assert set(listed) == {"白皮书培育 Whitepaper nurture", "MQL 交接 MQL hand-over"}
    assert {j["status"] for j in listed.values()} == {"active"}
    nurture = listed["白皮书培育 Whitepaper nurture"]["id"]
    enrolled = client.get(f"/api/v1/journeys/{nurture}/enrolments").json()["items"]
    assert enrolled  # the demo customers who read the whitepaper
    run_journeys(app, utcnow())
    dispatch(app)
    sent = client.get(f"/api/v1/messages?journey_id={nurture}").json()["items"]
    assert {m["status"] for m in sent} <= {"sent", "queued", "skipped"}
    assert any(m["status"] == "sent" for m in sent) or any(
        m["reason"] == "quiet_hours" for m in sent
    )
