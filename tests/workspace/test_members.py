"""Members: adding, duplicates, role changes, the last administrator, pagination and filters."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.auth.permissions import Role
from tests.factories import login, make_tenant, unique_email


def test_add_a_member_with_role_defaults(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    email = unique_email("rep")
    r = client.post(
        "/api/v1/users",
        json={"email": email.upper(), "name": "李娜", "password": "longenough", "role": "sales"},
        headers=tenant.admin.auth,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["email"] == email
    assert body["role"] == "sales"
    assert body["data_scope"] == "own"
    assert body["is_active"] is True
    fresh = TestClient(app)
    r = fresh.post("/api/v1/auth/login", json={"email": email, "password": "longenough"})
    assert r.status_code == 200


def test_a_duplicate_member_is_409_and_adds_nothing(app: FastAPI) -> None:
    tenant = make_tenant(app)
    rep = tenant.add(Role.sales)
    client = TestClient(app)
    before = client.get("/api/v1/users?limit=200", headers=tenant.admin.auth).json()["items"]
    r = client.post(
        "/api/v1/users",
        json={"email": rep.email, "name": "Again", "password": "longenough", "role": "admin"},
        headers=tenant.admin.auth,
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "already_exists"
    assert (
        client.get("/api/v1/users?limit=200", headers=tenant.admin.auth).json()["items"] == before
    )


def test_an_existing_login_is_only_invited_and_reveals_nothing(app: FastAPI) -> None:
    first, second = make_tenant(app, "First"), make_tenant(app, "Second")
    client = TestClient(app)
    csrf = login(client, first.admin.email)
    client.patch("/api/v1/me", json={"name": "Real Name 真名"}, headers={"X-CSRF-Token": csrf})
    body = {
        "email": first.admin.email,
        "name": "Typed",
        "password": "attacker-chosen",
        "role": "viewer",
    }
    r = TestClient(app).post("/api/v1/users", json=body, headers=second.admin.auth)
    assert r.status_code == 201
    invited = r.json()
    assert (invited["status"], invited["is_active"], invited["name"]) == ("invited", False, "Typed")
    assert invited["last_seen_at"] is None
    assert invited["language"] is None
    listed = TestClient(app).get("/api/v1/users?status=invited", headers=second.admin.auth).json()
    assert [m["name"] for m in listed["items"]] == ["Typed"]
    # the invitation neither sets a password nor adds the workspace before it is accepted
    r = TestClient(app).post(
        "/api/v1/auth/login", json={"email": first.admin.email, "password": "attacker-chosen"}
    )
    assert r.status_code == 401
    me = client.get("/api/v1/me").json()
    assert [w["id"] for w in me["workspaces"]] == [str(first.workspace_id)]
    assert [i["workspace"]["name"] for i in me["invitations"]] == ["Second"]
    r = client.post(
        "/api/v1/me/workspace",
        json={"workspace_id": str(second.workspace_id)},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 403
    # an administrator cannot activate it in the person's place
    r = TestClient(app).patch(
        f"/api/v1/users/{first.admin.user_id}", json={"is_active": True}, headers=second.admin.auth
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "invitation_pending")
    # the person accepts: the workspace appears and the real name shows
    r = client.post(
        f"/api/v1/me/invitations/{second.workspace_id}/accept", headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 200
    assert {w["id"] for w in r.json()["workspaces"]} == {
        str(first.workspace_id),
        str(second.workspace_id),
    }
    member = (
        TestClient(app)
        .get(f"/api/v1/users/{first.admin.user_id}", headers=second.admin.auth)
        .json()
    )
    assert (member["status"], member["name"]) == ("active", "Real Name 真名")
    r = client.post(
        f"/api/v1/me/invitations/{second.workspace_id}/accept", headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 404


def test_a_declined_invitation_disappears(app: FastAPI) -> None:
    first, second = make_tenant(app), make_tenant(app)
    body = {"email": first.admin.email, "name": "Typed", "role": "sales"}
    assert (
        TestClient(app).post("/api/v1/users", json=body, headers=second.admin.auth).status_code
        == 201
    )
    client = TestClient(app)
    csrf = login(client, first.admin.email)
    r = client.post(
        f"/api/v1/me/invitations/{second.workspace_id}/decline", headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 200
    assert r.json()["invitations"] == []
    r = TestClient(app).get(f"/api/v1/users/{first.admin.user_id}", headers=second.admin.auth)
    assert r.status_code == 404


def test_a_new_person_needs_a_password(app: FastAPI) -> None:
    tenant = make_tenant(app)
    r = TestClient(app).post(
        "/api/v1/users",
        json={"email": unique_email(), "name": "No pass", "role": "sales"},
        headers=tenant.admin.auth,
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_request"


def test_the_last_administrator_cannot_be_demoted_or_deactivated(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    for patch in ({"role": "viewer"}, {"is_active": False}):
        r = client.patch(
            f"/api/v1/users/{tenant.admin.user_id}", json=patch, headers=tenant.admin.auth
        )
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "last_admin"
    me = client.get(f"/api/v1/users/{tenant.admin.user_id}", headers=tenant.admin.auth).json()
    assert (me["role"], me["is_active"]) == ("admin", True)
    other = tenant.add(Role.admin)
    r = client.patch(
        f"/api/v1/users/{tenant.admin.user_id}", json={"role": "marketer"}, headers=other.auth
    )
    assert r.status_code == 200
    assert r.json()["data_scope"] == "all"


def test_role_change_resets_the_scope_unless_given(app: FastAPI) -> None:
    tenant = make_tenant(app)
    rep = tenant.add(Role.sales)
    client = TestClient(app)
    r = client.patch(f"/api/v1/users/{rep.user_id}", json={"role": "cs"}, headers=tenant.admin.auth)
    assert r.json()["data_scope"] == "team"
    r = client.patch(
        f"/api/v1/users/{rep.user_id}",
        json={"role": "sdr", "data_scope": "all"},
        headers=tenant.admin.auth,
    )
    assert (r.json()["role"], r.json()["data_scope"]) == ("sdr", "all")
    r = client.patch(f"/api/v1/users/{rep.user_id}", json={"role": None}, headers=tenant.admin.auth)
    assert r.status_code == 422


def test_pages_walk_every_member_once_in_order(app: FastAPI) -> None:
    tenant = make_tenant(app)
    for i in range(7):
        tenant.add(Role.sales, name=f"Rep {i:02d}")
    client = TestClient(app)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        url = "/api/v1/users?limit=3&sort=-name" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, headers=tenant.admin.auth).json()
        seen += [m["name"] for m in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == len(set(seen)) == 8


def test_filters_and_bad_listing_parameters(app: FastAPI) -> None:
    tenant = make_tenant(app)
    team = tenant.department("East")
    tenant.add(Role.sales, name="张伟", department_id=team)
    tenant.add(Role.marketer, name="Emma Smith")
    client = TestClient(app)
    h = tenant.admin.auth
    assert [
        m["name"] for m in client.get("/api/v1/users?role=marketer", headers=h).json()["items"]
    ] == ["Emma Smith"]
    assert [
        m["name"]
        for m in client.get(f"/api/v1/users?department_id={team}", headers=h).json()["items"]
    ] == ["张伟"]
    assert [m["name"] for m in client.get("/api/v1/users?q=emma", headers=h).json()["items"]] == [
        "Emma Smith"
    ]
    assert [m["name"] for m in client.get("/api/v1/users?q=张", headers=h).json()["items"]] == [
        "张伟"
    ]
    r = client.get("/api/v1/users?sort=password", headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_sort")
    r = client.get("/api/v1/users?cursor=not-a-cursor", headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_cursor")
    cursor = client.get("/api/v1/users?limit=1&sort=name", headers=h).json()["next_cursor"]
    r = client.get(f"/api/v1/users?limit=1&sort=email&cursor={cursor}", headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_cursor")
    r = client.get("/api/v1/users?limit=0", headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "validation_error")
