"""Collisions (撞单): writing to someone else's contact or account is recorded and the owner
told — once an hour per record and member."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.auth.permissions import Role
from tests.factories import make_tenant


def test_writing_to_anothers_contact_notifies_the_owner(app: FastAPI) -> None:
    tenant = make_tenant(app)
    team = tenant.department("East")
    rep = tenant.add(Role.sales, department_id=team)
    sdr = tenant.add(Role.sdr, department_id=team)
    client = TestClient(app)
    contact = client.post(
        "/api/v1/contacts",
        json={"name": "重点客户", "owner_id": str(rep.user_id)},
        headers=rep.auth,
    ).json()
    account = client.post(
        "/api/v1/accounts",
        json={"name": "Umbrella", "owner_id": str(rep.user_id)},
        headers=rep.auth,
    ).json()
    client.patch(
        f"/api/v1/contacts/{contact['id']}", json={"title": "CIO"}, headers=rep.auth
    )  # own: nothing
    assert client.get("/api/v1/notifications", headers=rep.auth).json()["items"] == []
    assert (
        client.patch(
            f"/api/v1/contacts/{contact['id']}", json={"title": "CTO"}, headers=sdr.auth
        ).status_code
        == 200
    )
    client.patch(
        f"/api/v1/contacts/{contact['id']}", json={"city": "上海"}, headers=sdr.auth
    )  # same hour: no second note
    client.put(
        f"/api/v1/accounts/{account['id']}/contacts/{contact['id']}",
        json={"role": "decision_maker"},
        headers=sdr.auth,
    )
    notes = client.get("/api/v1/notifications", headers=rep.auth).json()["items"]
    assert sorted((n["kind"], n["payload"]["object"], n["payload"]["name"]) for n in notes) == [
        ("collision", "account", "Umbrella"),
        ("collision", "contact", "重点客户"),
    ]
    assert all(n["payload"]["actor_id"] == str(sdr.user_id) for n in notes)
    collisions = client.get("/api/v1/collisions", headers=rep.auth).json()["items"]
    assert {(c["object"], c["actor_id"]) for c in collisions} == {
        ("contact", str(sdr.user_id)),
        ("account", str(sdr.user_id)),
    }
    assert (
        client.get("/api/v1/collisions", headers=sdr.auth).json()["items"] == []
    )  # not their records
    assert len(client.get("/api/v1/collisions", headers=tenant.admin.auth).json()["items"]) == 2
    assert (
        client.post(f"/api/v1/notifications/{notes[0]['id']}/read", headers=rep.auth).status_code
        == 204
    )
    assert (
        len(client.get("/api/v1/notifications?unread=true", headers=rep.auth).json()["items"]) == 1
    )
    assert (
        client.post(f"/api/v1/notifications/{notes[1]['id']}/read", headers=sdr.auth).status_code
        == 404
    )
    assert client.post("/api/v1/notifications/read-all", headers=rep.auth).status_code == 204
    assert client.get("/api/v1/notifications?unread=true", headers=rep.auth).json()["items"] == []
