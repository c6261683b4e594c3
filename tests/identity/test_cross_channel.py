"""Scenario 2 (DOMAIN.md): one person across the Official Account, WeCom and the web.

OA follow (openid + unionid, with the phone registered on WeChat) → anonymous browsing on the
web → WeCom add (external_userid + the same unionid) → a web form with the phone and the
browser's anonymous id: one contact, every event on one timeline, the merge logged — and undoing
the merge restores the anonymous visitor with its page views.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import make_tenant

OA_APPID = "wx8d7f0a1b2c3d4e5f"
CORP_ID = "ww1a2b3c4d5e6f7a8b"
UNIONID = "o6_bmasdasdsad6_2sgVt7hMZOPfL"


def identify(client: TestClient, auth: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/api/v1/identify", json=body, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def timeline(client: TestClient, auth: dict[str, str], contact_id: str) -> list[str]:
    """What the person did (``profile_updated`` only records writes to their fields)."""
    r = client.get(f"/api/v1/contacts/{contact_id}/timeline", headers=auth)
    assert r.status_code == 200, r.text
    return [e["type"] for e in r.json()["items"] if e["type"] != "profile_updated"]


def test_one_person_across_wechat_wecom_and_the_web(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth

    follow = identify(
        client,
        h,
        {
            "identities": [
                {"kind": "wechat_openid", "namespace": OA_APPID, "value": "oOA-123"},
                {"kind": "wechat_unionid", "value": UNIONID},
                {"kind": "phone", "value": "138 0013 8000"},
            ],
            "attributes": {"name": "微信用户"},
            "source": "wechat_oa",
            "events": [
                {"type": "follow", "channel": "wechat", "occurred_at": "2026-11-01T09:00:00+08:00"}
            ],
        },
    )
    assert follow["created"] is True
    wechat_id = follow["contact"]["id"]

    browsing = identify(
        client,
        h,
        {
            "identities": [{"kind": "anonymous_id", "value": "anon-7f3a"}],
            "source": "web",
            "events": [
                {
                    "type": "page_view",
                    "properties": {"url": "/pricing"},
                    "occurred_at": "2026-11-02T10:00:00+08:00",
                },
                {
                    "type": "page_view",
                    "properties": {"url": "/cases"},
                    "occurred_at": "2026-11-02T10:05:00+08:00",
                },
            ],
        },
    )
    visitor_id = browsing["contact"]["id"]
    assert visitor_id != wechat_id

    wecom = identify(
        client,
        h,
        {
            "identities": [
                {"kind": "wecom_external_userid", "namespace": CORP_ID, "value": "wmABC123"},
                {"kind": "wechat_unionid", "value": UNIONID},
            ],
            "source": "wecom",
            "events": [
                {
                    "type": "wecom_friend_added",
                    "channel": "wecom",
                    "occurred_at": "2026-11-03T11:00:00+08:00",
                }
            ],
        },
    )
    assert (wecom["created"], wecom["contact"]["id"], wecom["merges"]) == (False, wechat_id, [])

    form = identify(
        client,
        h,
        {
            "identities": [
                {"kind": "phone", "value": "+86 13800138000"},
                {"kind": "anonymous_id", "value": "anon-7f3a"},
            ],
            "attributes": {"name": "李雷", "email": "li.lei@example.cn", "title": "IT Director"},
            "overwrite": True,
            "source": "web_form",
            "events": [
                {
                    "type": "form_submit",
                    "properties": {"form_id": "whitepaper"},
                    "occurred_at": "2026-11-04T15:00:00+08:00",
                }
            ],
        },
    )
    assert form["contact"]["id"] == wechat_id  # the identified contact survives the anonymous one
    assert len(form["merges"]) == 1
    merge = form["merges"][0]
    assert (merge["survivor_id"], merge["merged_id"]) == (wechat_id, visitor_id)
    assert "anonymous_id" in merge["reason"]

    person = client.get(f"/api/v1/contacts/{wechat_id}", headers=h).json()
    assert person["contact"]["name"] == "李雷"
    assert person["contact"]["phone"] == "+8613800138000"
    assert person["contact"]["email"] == "li.lei@example.cn"
    kinds = sorted(i["kind"] for i in person["identities"])
    assert kinds == [
        "anonymous_id",
        "email",
        "phone",
        "wechat_openid",
        "wechat_unionid",
        "wecom_external_userid",
    ]
    assert [m["id"] for m in person["merges"]] == [merge["id"]]
    assert timeline(client, h, wechat_id) == [
        "form_submit",
        "wecom_friend_added",
        "page_view",
        "page_view",
        "follow",
    ]
    visitor = client.get(f"/api/v1/contacts/{visitor_id}", headers=h).json()["contact"]
    assert (visitor["status"], visitor["merged_into_id"]) == ("merged", wechat_id)
    assert client.get("/api/v1/contacts?q=anon", headers=h).json()["items"] == []

    # undo: the visitor comes back with its identity and its page views; the rest stays
    r = client.post(f"/api/v1/merges/{merge['id']}/undo", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["undone_at"] is not None
    assert timeline(client, h, visitor_id) == ["page_view", "page_view"]
    assert timeline(client, h, wechat_id) == ["form_submit", "wecom_friend_added", "follow"]
    restored = client.get(f"/api/v1/contacts/{visitor_id}", headers=h).json()
    assert restored["contact"]["status"] == "active"
    assert [i["kind"] for i in restored["identities"]] == ["anonymous_id"]
    assert "anonymous_id" not in [
        i["kind"]
        for i in client.get(f"/api/v1/contacts/{wechat_id}", headers=h).json()["identities"]
    ]
    r = client.post(f"/api/v1/merges/{merge['id']}/undo", headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "merge_not_undoable")


def test_identities_of_two_different_people_are_refused_not_merged(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    a = identify(
        client,
        h,
        {
            "identities": [
                {"kind": "wechat_unionid", "value": "U-A"},
                {"kind": "email", "value": "a@x.cn"},
            ]
        },
    )
    b = identify(
        client,
        h,
        {
            "identities": [
                {"kind": "wechat_unionid", "value": "U-B"},
                {"kind": "phone", "value": "13900000001"},
            ]
        },
    )
    r = client.post(
        "/api/v1/identify",
        json={
            "identities": [
                {"kind": "email", "value": "a@x.cn"},
                {"kind": "phone", "value": "13900000001"},
            ]
        },
        headers=h,
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "identity_conflict")
    assert sorted(r.json()["error"]["details"]["contact_ids"]) == sorted(
        [a["contact"]["id"], b["contact"]["id"]]
    )
    for contact in (a, b):
        assert (
            client.get(f"/api/v1/contacts/{contact['contact']['id']}", headers=h).json()["merges"]
            == []
        )
    r = client.post(
        "/api/v1/identify",
        json={
            "identities": [
                {"kind": "email", "value": "a@x.cn"},
                {"kind": "wechat_unionid", "value": "U-C"},
            ]
        },
        headers=h,
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "identity_conflict")
    assert client.get("/api/v1/contacts", headers=h).json()["items"].__len__() == 2


def test_retried_identify_records_events_once(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    body = {
        "identities": [{"kind": "email", "value": "retry@x.cn"}],
        "events": [
            {"type": "page_view", "properties": {"url": "/a"}, "idempotency_key": "pv-1"},
            {"type": "page_view", "properties": {"url": "/b"}, "idempotency_key": "pv-2"},
        ],
    }
    assert identify(client, h, body)["events_recorded"] == 2
    again = identify(client, h, body)
    assert (again["events_recorded"], again["created"]) == (0, False)
    assert timeline(client, h, again["contact"]["id"]) == ["page_view", "page_view"]
