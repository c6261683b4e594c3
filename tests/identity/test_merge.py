"""Manual merges: what moves, what is filled, and an undo that restores exactly."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import make_tenant


def test_merge_moves_links_fills_gaps_and_undo_restores(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    account = client.post("/api/v1/accounts", json={"name": "Globex"}, headers=h).json()
    keep = client.post(
        "/api/v1/contacts", json={"name": "Keep", "email": "keep@x.cn"}, headers=h
    ).json()
    dup = client.post(
        "/api/v1/contacts",
        json={"name": "Dup", "phone": "13700000000", "title": "CFO", "city": "杭州"},
        headers=h,
    ).json()
    client.put(
        f"/api/v1/accounts/{account['id']}/contacts/{dup['id']}",
        json={"role": "decision_maker"},
        headers=h,
    )
    client.put(f"/api/v1/contacts/{dup['id']}/consent/sms", json={"status": "opt_out"}, headers=h)
    client.post(
        "/api/v1/identify",
        json={
            "identities": [{"kind": "phone", "value": "13700000000"}],
            "events": [{"type": "call"}],
        },
        headers=h,
    )

    r = client.post(f"/api/v1/contacts/{keep['id']}/merge", json={"other_id": dup["id"]}, headers=h)
    assert r.status_code == 200, r.text
    merge_id = r.json()["id"]
    view = client.get(f"/api/v1/contacts/{keep['id']}", headers=h).json()
    c = view["contact"]
    assert (c["name"], c["title"], c["city"], c["phone"]) == (
        "Keep",
        "CFO",
        "杭州",
        "+8613700000000",
    )
    assert [(a["account"]["name"], a["role"]) for a in view["accounts"]] == [
        ("Globex", "decision_maker")
    ]
    assert [(x["channel"], x["status"]) for x in view["consent"]] == [("sms", "opt_out")]
    assert [
        e["type"]
        for e in client.get(f"/api/v1/contacts/{keep['id']}/timeline", headers=h).json()["items"]
        if e["type"] != "profile_updated"  # the writes to fields, not what the person did
    ] == ["call", "consent_changed"]  # the merged contact's events, its sms opt-out too
    r = client.post(
        "/api/v1/identify",
        json={"identities": [{"kind": "phone", "value": "13700000000"}]},
        headers=h,
    )
    assert r.json()["contact"]["id"] == keep["id"]  # the merged phone now finds the survivor
    # a person edits a field the merge filled: the undo leaves their edit alone
    client.patch(f"/api/v1/contacts/{keep['id']}", json={"city": "宁波"}, headers=h)

    assert client.post(f"/api/v1/merges/{merge_id}/undo", headers=h).status_code == 200
    kept = client.get(f"/api/v1/contacts/{keep['id']}", headers=h).json()
    back = client.get(f"/api/v1/contacts/{dup['id']}", headers=h).json()
    assert (kept["contact"]["title"], kept["contact"]["phone"], kept["contact"]["city"]) == (
        None,
        None,
        "宁波",
    )
    assert kept["accounts"] == []
    assert kept["consent"] == []
    assert [i["kind"] for i in kept["identities"]] == ["email"]
    assert back["contact"]["status"] == "active"
    assert [(a["account"]["name"], a["role"]) for a in back["accounts"]] == [
        ("Globex", "decision_maker")
    ]
    assert [
        e["type"]
        for e in client.get(f"/api/v1/contacts/{dup['id']}/timeline", headers=h).json()["items"]
        if e["type"] != "profile_updated"  # the writes to fields, not what the person did
    ] == ["call", "consent_changed"]


def test_merging_refuses_itself_merged_ones_and_conflicts(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    a = client.post(
        "/api/v1/contacts",
        json={"name": "A", "identities": [{"kind": "wechat_unionid", "value": "U1"}]},
        headers=h,
    ).json()
    b = client.post(
        "/api/v1/contacts",
        json={"name": "B", "identities": [{"kind": "wechat_unionid", "value": "U2"}]},
        headers=h,
    ).json()
    c = client.post("/api/v1/contacts", json={"name": "C"}, headers=h).json()
    r = client.post(f"/api/v1/contacts/{a['id']}/merge", json={"other_id": b["id"]}, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "identity_conflict")
    r = client.post(f"/api/v1/contacts/{a['id']}/merge", json={"other_id": a["id"]}, headers=h)
    assert r.status_code == 409
    assert (
        client.post(
            f"/api/v1/contacts/{a['id']}/merge", json={"other_id": c["id"]}, headers=h
        ).status_code
        == 200
    )
    r = client.post(f"/api/v1/contacts/{b['id']}/merge", json={"other_id": c["id"]}, headers=h)
    assert r.status_code == 404  # C is merged: no longer writable
    # a chain: undoing the earlier merge waits for the later one
    d = client.post("/api/v1/contacts", json={"name": "D"}, headers=h).json()
    first = client.post(
        f"/api/v1/contacts/{d['id']}/merge", json={"other_id": b["id"]}, headers=h
    ).json()
    e = client.post("/api/v1/contacts", json={"name": "E"}, headers=h).json()
    second = client.post(
        f"/api/v1/contacts/{e['id']}/merge", json={"other_id": d["id"]}, headers=h
    ).json()
    r = client.post(f"/api/v1/merges/{first['id']}/undo", headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "merge_not_undoable")
    assert client.post(f"/api/v1/merges/{second['id']}/undo", headers=h).status_code == 200
    assert client.post(f"/api/v1/merges/{first['id']}/undo", headers=h).status_code == 200
