"""Departments: a tree per workspace, unique names among siblings, no cycles, no orphans."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.auth.permissions import Role
from tests.factories import make_tenant


def test_tree_rename_and_move(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    h = tenant.admin.auth
    sales = client.post("/api/v1/departments", json={"name": "销售部"}, headers=h).json()
    east = client.post(
        "/api/v1/departments", json={"name": "华东", "parent_id": sales["id"]}, headers=h
    ).json()
    assert east["parent_id"] == sales["id"]
    r = client.post(
        "/api/v1/departments", json={"name": "华东", "parent_id": sales["id"]}, headers=h
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "already_exists")
    r = client.patch(f"/api/v1/departments/{east['id']}", json={"name": "East China"}, headers=h)
    assert r.json()["name"] == "East China"
    r = client.patch(f"/api/v1/departments/{east['id']}", json={"parent_id": None}, headers=h)
    assert r.json()["parent_id"] is None
    names = sorted(d["name"] for d in client.get("/api/v1/departments", headers=h).json()["items"])
    assert names == ["East China", "销售部"]


def test_a_department_cannot_move_under_itself(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    h = tenant.admin.auth
    top = tenant.department("Top")
    mid = tenant.department("Mid", parent_id=top)
    low = tenant.department("Low", parent_id=mid)
    for parent in (top, low):
        r = client.patch(f"/api/v1/departments/{top}", json={"parent_id": str(parent)}, headers=h)
        assert (r.status_code, r.json()["error"]["code"]) == (409, "department_cycle")
    assert client.get(f"/api/v1/departments/{top}", headers=h).json()["parent_id"] is None


def test_only_an_empty_department_is_deleted(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    h = tenant.admin.auth
    parent = tenant.department("Parent")
    child = tenant.department("Child", parent_id=parent)
    tenant.add(Role.sales, department_id=child)
    for department in (parent, child):
        r = client.delete(f"/api/v1/departments/{department}", headers=h)
        assert (r.status_code, r.json()["error"]["code"]) == (409, "in_use")
    assert len(client.get("/api/v1/departments", headers=h).json()["items"]) == 2
    empty = tenant.department("Empty")
    assert client.delete(f"/api/v1/departments/{empty}", headers=h).status_code == 204
    assert client.get(f"/api/v1/departments/{empty}", headers=h).status_code == 404


def test_workspace_settings(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    h = tenant.admin.auth
    r = client.patch(
        "/api/v1/workspace", json={"timezone": "Europe/Berlin", "default_language": "en"}, headers=h
    )
    assert r.status_code == 200
    assert (r.json()["timezone"], r.json()["default_language"]) == ("Europe/Berlin", "en")
    r = client.patch("/api/v1/workspace", json={"timezone": "Mars/Olympus"}, headers=h)
    assert r.status_code == 422
    r = client.patch("/api/v1/workspace", json={"name": None}, headers=h)
    assert r.status_code == 422
    assert client.get("/api/v1/workspace", headers=h).json()["timezone"] == "Europe/Berlin"
