"""Web tracking through its public endpoints: origins, robots, resends, identify and stitching,
the pixel and tracked redirects, whose tokens verify only for their purpose."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from guanxi.models import Contact, Event
from guanxi.tracking import redirects
from tests.factories import Tenant, make_tenant

SITE = "https://shop.example.cn"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


def setup(app: FastAPI) -> tuple[Tenant, TestClient, str]:
    tenant, client = make_tenant(app), TestClient(app)
    r = client.put(
        "/api/v1/tracking", json={"allowed_origins": [SITE + "/"]}, headers=tenant.admin.auth
    )
    assert r.status_code == 200, r.text
    assert r.json()["allowed_origins"] == [SITE]
    return tenant, client, r.json()["site_key"]


def send(
    client: TestClient,
    key: str,
    path: str,
    body: dict[str, Any],
    origin: str = SITE,
    ua: str = BROWSER,
) -> Any:
    import json

    return client.post(
        f"/t/{key}/{path}",
        content=json.dumps(body),
        headers={"Origin": origin, "User-Agent": ua, "Content-Type": "text/plain"},
    )


def events_of(tenant: Tenant) -> list[Event]:
    with tenant.session() as s:
        return list(
            s.scalars(
                select(Event)
                .where(Event.workspace_id == tenant.workspace_id)
                .order_by(Event.occurred_at, Event.id)
            )
        )


def view(eid: str, url: str, **props: Any) -> dict[str, Any]:
    return {"id": eid, "type": "page_view", "properties": {"url": url, **props}}


def test_settings_give_the_snippet_and_refuse_bad_origins(app: FastAPI) -> None:
    tenant, client, key = setup(app)
    got = client.get("/api/v1/tracking", headers=tenant.admin.auth).json()
    assert f"/t/{key}/g.js" in got["snippet"]
    bad = client.put(
        "/api/v1/tracking", json={"allowed_origins": ["not a url"]}, headers=tenant.admin.auth
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_origin"
    js = client.get(f"/t/{key}/g.js")
    assert js.status_code == 200
    assert js.headers["content-type"].startswith("application/javascript")
    assert f'SITE = "{key}"' in js.text
    assert 'BASE = "http://testserver"' in js.text
    assert client.get("/t/nosuchsite/g.js").status_code == 404


def test_collect_checks_origin_ignores_robots_and_counts_a_resend_once(app: FastAPI) -> None:
    tenant, client, key = setup(app)
    body = {"anonymous_id": "visitor-0001", "events": [view("e-000001", SITE + "/a")]}
    refused = send(client, key, "collect", body, origin="https://evil.example")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "origin_not_allowed"
    assert send(client, key, "collect", body, ua="Baiduspider/2.0").status_code == 204
    assert (
        send(client, key, "collect", body, ua="Mozilla/5.0 HeadlessChrome/131").status_code == 204
    )
    assert events_of(tenant) == []
    ok = send(client, key, "collect", body)
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == SITE
    assert send(client, key, "collect", body).json() == {"stored": 0}  # the beacon resent
    forged = {
        "anonymous_id": "visitor-0001",
        "events": [
            {"id": "e-000002", "type": "order", "properties": {"order_id": "1", "amount": 1}}
        ],
    }
    assert send(client, key, "collect", forged).json() == {"stored": 0}
    stored = events_of(tenant)
    assert [(e.type, e.channel, e.source) for e in stored] == [("page_view", "web", "web")]


def test_identify_stitches_the_anonymous_visits_with_their_first_touch(app: FastAPI) -> None:
    tenant, client, key = setup(app)
    aid = "visitor-stitch-1"
    send(
        client,
        key,
        "collect",
        {
            "anonymous_id": aid,
            "events": [
                view(
                    "e-100001",
                    SITE + "/?utm_source=wechat",
                    utm_source="wechat",
                    utm_campaign="双11",
                )
            ],
        },
    )
    send(
        client,
        key,
        "collect",
        {"anonymous_id": aid, "events": [view("e-100002", SITE + "/pricing", referrer=SITE + "/")]},
    )
    r = send(
        client,
        key,
        "identify",
        {"anonymous_id": aid, "traits": {"email": "Wang@Example.cn", "name": "王五"}},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"rotate": False}
    with tenant.session() as s:
        people = s.scalars(
            select(Contact).where(
                Contact.workspace_id == tenant.workspace_id, Contact.status == "active"
            )
        ).all()
    assert len(people) == 1
    person = people[0]
    assert (person.email, person.name) == ("wang@example.cn", "王五")
    assert person.first_touch is not None
    assert person.first_touch["utm_source"] == "wechat"
    assert person.first_touch["utm_campaign"] == "双11"
    assert {e.contact_id for e in events_of(tenant)} == {person.id}

    # someone else signs in on the same browser: no merge, the snippet starts a new id
    other = send(
        client, key, "identify", {"anonymous_id": aid, "traits": {"email": "li@example.cn"}}
    )
    assert other.json() == {"rotate": True}
    with tenant.session() as s:
        active = s.scalar(
            select(func.count())
            .select_from(Contact)
            .where(Contact.workspace_id == tenant.workspace_id, Contact.status == "active")
        )
    assert active == 2


def test_the_pixel_records_a_view_and_redirects_record_clicks(app: FastAPI) -> None:
    tenant, client, key = setup(app)
    gif = client.get(
        f"/t/{key}/p.gif",
        params={"aid": "pixel-visitor", "url": SITE + "/mail"},
        headers={"User-Agent": BROWSER, "Referer": SITE + "/mail"},
    )
    assert gif.status_code == 200
    assert gif.headers["content-type"] == "image/gif"
    client.get(
        f"/t/{key}/p.gif",
        params={"aid": "pixel-visitor", "url": "x"},
        headers={"User-Agent": "curl/8", "Referer": SITE + "/"},
    )
    assert [e.type for e in events_of(tenant)] == ["page_view"]

    h = tenant.admin.auth
    contact = client.post("/api/v1/contacts", json={"name": "点击者"}, headers=h).json()["id"]
    link = client.post(
        "/api/v1/tracking/redirects",
        json={"url": "https://www.example.cn/offer?x=1", "contact_id": contact, "campaign": "年终"},
        headers=h,
    ).json()["url"]
    path = link.removeprefix("http://testserver")
    hop = client.get(path, headers={"User-Agent": BROWSER}, follow_redirects=False)
    assert hop.status_code == 302
    assert hop.headers["location"] == "https://www.example.cn/offer?x=1"
    clicks = [e for e in events_of(tenant) if e.type == "link_click"]
    assert [(str(c.contact_id), c.properties["utm_campaign"]) for c in clicks] == [
        (contact, "年终")
    ]
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert client.get(tampered, follow_redirects=False).status_code == 404


def test_a_page_cannot_merge_two_people_guanxi_knows(app: FastAPI) -> None:
    tenant, client, key = setup(app)
    h = tenant.admin.auth
    alice = client.post(
        "/api/v1/contacts", json={"name": "Alice", "email": "alice@corp.cn"}, headers=h
    ).json()
    bob = client.post(
        "/api/v1/contacts", json={"name": "Bob", "phone": "13812345678"}, headers=h
    ).json()
    r = send(
        client,
        key,
        "identify",
        {
            "anonymous_id": "intruder-01",
            "traits": {"email": "alice@corp.cn", "phone": "13812345678"},
        },
    )
    assert r.status_code == 200
    for person in (alice, bob):
        got = client.get(f"/api/v1/contacts/{person['id']}", headers=h).json()
        assert got["contact"]["status"] == "active"
    bob_identities = client.get(f"/api/v1/contacts/{bob['id']}", headers=h).json()["identities"]
    assert [i["kind"] for i in bob_identities] == ["phone"]  # the phone stayed with Bob


def test_public_bodies_are_bounded_and_bad_json_is_a_4xx(app: FastAPI) -> None:
    tenant, client, key = setup(app)
    huge = {"anonymous_id": "visitor-big1", "events": [view("e-big0001", SITE, blob="x" * 70_000)]}
    assert send(client, key, "collect", huge).status_code == 413
    deep = client.post(
        f"/t/{key}/collect",
        content="[" * 5000 + "]" * 5000,
        headers={"Origin": SITE, "User-Agent": BROWSER},
    )
    assert deep.status_code == 422
    assert deep.json()["error"]["code"] == "invalid_payload"
    # no Referer: a page the allow-list cannot vouch for is answered, not recorded
    assert (
        client.get(
            f"/t/{key}/p.gif",
            params={"aid": "pixel-noref1", "url": "x"},
            headers={"User-Agent": BROWSER},
        ).status_code
        == 200
    )
    assert events_of(tenant) == []
    # a default port is the same origin as none
    client.put(
        "/api/v1/tracking",
        json={"allowed_origins": ["https://a.example.cn:443"]},
        headers=tenant.admin.auth,
    )
    body = {
        "anonymous_id": "visitor-port1",
        "events": [view("e-port0001", "https://a.example.cn/")],
    }
    assert send(client, key, "collect", body, origin="https://a.example.cn").status_code == 200


def test_a_request_waiting_for_a_lock_does_not_stop_the_server(
    app: FastAPI, live_server: str, dialect: str
) -> None:
    """Public endpoints do their database work in the thread pool: while one waits for a lock
    (here held by the test), the server goes on answering, and the waiting request then
    completes. (Done on the event loop, the wait would stop every request — including the one
    holding the lock from committing.)"""
    import threading
    import time

    import httpx
    from sqlalchemy import text

    tenant, _, key = setup(app)
    holder = app.state.engine.connect()
    blocker = holder.begin()
    if dialect == "sqlite":  # SQLite: the write lock itself
        holder.execute(
            text(
                "INSERT INTO event_type (workspace_id, name, label, properties, created_at) VALUES (:w, 'lock', 'x', '[]', CURRENT_TIMESTAMP)"
            ),
            {"w": tenant.workspace_id},
        )
    else:  # the event's idempotency key, claimed and not committed
        from guanxi.event.service import key_hash

        holder.execute(
            text(
                "INSERT INTO event_key (workspace_id, key, event_id, contact_id) VALUES (:w, :k, 1, 1)"
            ),
            {"w": tenant.workspace_id, "k": key_hash("web:visitor-lock1:e-lock0001")},
        )
    answer: dict[str, Any] = {}

    def beacon() -> None:
        answer["r"] = httpx.post(
            f"{live_server}/t/{key}/collect",
            content='{"anonymous_id": "visitor-lock1", "events": [{"id": "e-lock0001", "type": "page_view", "properties": {"url": "/l"}}]}',
            headers={"Origin": SITE, "User-Agent": BROWSER},
            timeout=30,
        )

    thread = threading.Thread(target=beacon)
    thread.start()
    time.sleep(0.5)
    started = time.perf_counter()
    assert httpx.get(f"{live_server}/healthz", timeout=5).status_code == 200
    assert time.perf_counter() - started < 2
    assert thread.is_alive()  # still waiting for the lock
    blocker.rollback()
    holder.close()
    thread.join(30)
    assert answer["r"].status_code == 200
    assert [e.type for e in events_of(tenant)] == ["page_view"]


def test_a_token_verifies_only_for_the_purpose_it_was_signed_for() -> None:
    payload = {"u": "https://www.example.cn/", "w": 1}
    redirect = redirects.sign("secret", payload)
    assert redirects.verify("secret", redirect) == payload
    assert redirects.verify("secret", redirect, "unsubscribe") is None
    other = redirects.sign("secret", payload, "unsubscribe")
    assert redirects.verify("secret", other, "unsubscribe") == payload
    assert redirects.verify("secret", other) is None
    assert redirects.verify("another", other, "unsubscribe") is None
