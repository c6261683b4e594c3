"""Every endpoint, called with another workspace's ids, answers 404 and changes nothing.

The cases are generated from the OpenAPI document (the route table), so a new endpoint with an
id in its path is covered the day it is added; the test fails until its id kind and a sample
body are known below.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.auth.permissions import Role
from tests.factories import Tenant, make_tenant

# Which resource each path parameter names.
ID_KINDS = {"user_id": "member", "department_id": "department", "key_id": "api_key"}
# A valid body for every operation with a path id and a request body.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("patch", "/api/v1/departments/{department_id}"): {"name": "renamed"},
    ("patch", "/api/v1/users/{user_id}"): {"role": "viewer"},
}


def operations_with_ids(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    spec = app.openapi()
    found = []
    for path, ops in spec["paths"].items():
        if not path.startswith("/api/v1") or "{" not in path:
            continue
        for method, op in ops.items():
            found.append((method, path, op))
    return found


def victim_ids(victim: Tenant) -> dict[str, int]:
    department = victim.department("Victim dept")
    member = victim.add(Role.sales, department_id=department)
    with victim.session() as s:
        from guanxi.auth import repository

        key_id = repository.api_key_by_prefix(s, member.key.split("_")[1])
        assert key_id is not None
        return {"member": member.user_id, "department": department, "api_key": key_id.id}


def snapshot(victim: Tenant) -> str:
    client = TestClient(victim.app)
    h = victim.admin.auth
    parts = [
        client.get("/api/v1/users?limit=200", headers=h).text,
        client.get("/api/v1/departments", headers=h).text,
        re.sub(
            r'"last_used_at":"[^"]*"',
            "",
            client.get("/api/v1/api-keys?include_revoked=true&limit=200", headers=h).text,
        ),
    ]
    return "\n".join(parts)


def test_every_id_endpoint_hides_other_workspaces(app: FastAPI) -> None:
    attacker, victim = make_tenant(app, "Attacker"), make_tenant(app, "Victim")
    ids = victim_ids(victim)
    before = snapshot(victim)
    client = TestClient(app)
    operations = operations_with_ids(app)
    assert len(operations) >= 7
    for method, path, op in operations:
        params = re.findall(r"{(\w+)}", path)
        unknown = [p for p in params if p not in ID_KINDS]
        assert not unknown, f"{method.upper()} {path}: add {unknown} to ID_KINDS"
        url = path.format(**{p: ids[ID_KINDS[p]] for p in params})
        kwargs: dict[str, Any] = {"headers": attacker.admin.auth}
        if "requestBody" in op:
            assert (method, path) in BODIES, f"{method.upper()} {path}: add a sample body"
            kwargs["json"] = BODIES[(method, path)]
        response = client.request(method.upper(), url, **kwargs)
        assert response.status_code == 404, (
            f"{method.upper()} {url}: {response.status_code} {response.text}"
        )
        assert response.json()["error"]["code"] == "not_found"
    assert snapshot(victim) == before


def test_ids_in_bodies_and_filters_stay_in_their_workspace(app: FastAPI) -> None:
    attacker, victim = make_tenant(app, "Attacker"), make_tenant(app, "Victim")
    ids = victim_ids(victim)
    client = TestClient(app)
    h = attacker.admin.auth
    r = client.post(
        "/api/v1/departments", json={"name": "x", "parent_id": str(ids["department"])}, headers=h
    )
    assert r.status_code == 404
    r = client.post(
        "/api/v1/users",
        json={
            "email": "new@example.test",
            "name": "N",
            "password": "longenough",
            "role": "sales",
            "department_id": str(ids["department"]),
        },
        headers=h,
    )
    assert r.status_code == 404
    assert client.get("/api/v1/users?q=new@example.test", headers=h).json()["items"] == []
    r = client.get(f"/api/v1/api-keys?owner_id={ids['member']}", headers=h)
    assert r.status_code == 200
    assert r.json()["items"] == []
    r = client.get(f"/api/v1/users?department_id={ids['department']}", headers=h)
    assert r.json()["items"] == []


def test_a_session_cannot_switch_into_a_foreign_workspace(app: FastAPI) -> None:
    attacker, victim = make_tenant(app, "Attacker"), make_tenant(app, "Victim")
    client = TestClient(app)
    from tests.factories import login

    csrf = login(client, attacker.admin.email)
    r = client.post(
        "/api/v1/me/workspace",
        json={"workspace_id": str(victim.workspace_id)},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "no_workspace"
    assert client.get("/api/v1/workspace").json()["id"] == str(attacker.workspace_id)


@pytest.mark.parametrize(
    "path", ["/api/v1/workspace", "/api/v1/users", "/api/v1/departments", "/api/v1/api-keys"]
)
def test_lists_show_only_the_callers_workspace(app: FastAPI, path: str) -> None:
    a, b = make_tenant(app, "A"), make_tenant(app, "B")
    b.department("Only in B")
    b.add(Role.marketer)
    client = TestClient(app)
    text = client.get(path, headers=a.admin.auth).text
    assert str(b.workspace_id) not in text
    assert "Only in B" not in text
    assert b.admin.email not in text
