"""Session sign-in through the API: cookies, CSRF, logout, workspace switch, own profile."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from guanxi.models import UserSession
from tests.factories import PASSWORD, login, make_tenant


def session_count(tenant: object, user_id: int) -> int:
    with tenant.session() as s:  # type: ignore[attr-defined]
        return int(s.scalar(select(func.count()).where(UserSession.user_id == user_id)) or 0)


def test_wrong_password_is_401_and_opens_no_session(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    r = client.post(
        "/api/v1/auth/login", json={"email": tenant.admin.email, "password": "wrong-password"}
    )
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_credentials"
    r = client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.test", "password": PASSWORD}
    )
    assert r.status_code == 401
    assert session_count(tenant, tenant.admin.user_id) == 0
    assert "guanxi_session" not in client.cookies


def test_login_is_case_insensitive_on_email_and_returns_the_profile(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    r = client.post(
        "/api/v1/auth/login", json={"email": tenant.admin.email.upper(), "password": PASSWORD}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["user"]["email"] == tenant.admin.email
    assert body["workspace"]["id"] == str(tenant.workspace_id)
    assert body["via"] == "session"
    assert body["csrf_token"]
    assert "users:write" in body["permissions"]
    assert client.get("/api/v1/me").json()["user"]["id"] == str(tenant.admin.user_id)


def test_cookie_writes_need_the_csrf_token(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    csrf = login(client, tenant.admin.email)
    r = client.post("/api/v1/departments", json={"name": "Sneaky"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "csrf_failed"
    r = client.post(
        "/api/v1/departments", json={"name": "Sneaky"}, headers={"X-CSRF-Token": "forged"}
    )
    assert r.status_code == 403
    assert client.get("/api/v1/departments").json()["items"] == []
    r = client.post("/api/v1/departments", json={"name": "Real"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201


def test_logout_ends_the_session(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    csrf = login(client, tenant.admin.email)
    cookie = client.cookies["guanxi_session"]
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    replay = TestClient(app, cookies={"guanxi_session": cookie})
    assert replay.get("/api/v1/me").status_code == 401
    assert session_count(tenant, tenant.admin.user_id) == 0


def test_switching_workspaces_and_creating_one(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    csrf = login(client, tenant.admin.email)
    h = {"X-CSRF-Token": csrf}
    r = client.post("/api/v1/workspaces", json={"name": "Second 第二"}, headers=h)
    assert r.status_code == 201
    second = r.json()["id"]
    me = client.get("/api/v1/me").json()
    assert {w["id"] for w in me["workspaces"]} == {str(tenant.workspace_id), second}
    assert me["workspace"]["id"] == str(tenant.workspace_id)
    r = client.post("/api/v1/me/workspace", json={"workspace_id": second}, headers=h)
    assert r.status_code == 200
    assert client.get("/api/v1/workspace").json()["name"] == "Second 第二"
    assert client.get("/api/v1/me").json()["user"]["role"] == "admin"
    # an API key cannot create workspaces: it belongs to one
    r = TestClient(app).post(
        "/api/v1/workspaces", json={"name": "Third"}, headers=tenant.admin.auth
    )
    assert r.status_code == 401


def test_own_profile_language_and_password(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    csrf = login(client, tenant.admin.email)
    h = {"X-CSRF-Token": csrf}
    r = client.patch("/api/v1/me", json={"language": "zh_CN", "name": "王小明"}, headers=h)
    assert r.status_code == 200
    assert r.json()["user"]["language"] == "zh_CN"
    # the saved language now speaks for the user
    r = client.post("/api/v1/departments", json={"name": ""}, headers=h)
    assert r.status_code == 422
    assert r.json()["error"]["message"] == "部分字段填写有误。"
    r = client.patch("/api/v1/me", json={"name": None}, headers=h)
    assert r.status_code == 422
    other = TestClient(app)
    login(other, tenant.admin.email)  # a second session, e.g. another browser
    r = client.patch("/api/v1/me", json={"password": "a new long password"}, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "invalid_credentials")
    r = client.patch(
        "/api/v1/me",
        json={"password": "a new long password", "current_password": "wrong"},
        headers=h,
    )
    assert r.status_code == 401
    r = client.patch(
        "/api/v1/me",
        json={"password": "a new long password", "current_password": PASSWORD},
        headers=h,
    )
    assert r.status_code == 200
    assert client.get("/api/v1/me").status_code == 200  # this session stays
    assert other.get("/api/v1/me").status_code == 401  # the others end
    fresh = TestClient(app)
    r = fresh.post("/api/v1/auth/login", json={"email": tenant.admin.email, "password": PASSWORD})
    assert r.status_code == 401
    login(fresh, tenant.admin.email, "a new long password")


def test_an_api_key_cannot_change_the_password(app: FastAPI) -> None:
    tenant = make_tenant(app)
    r = TestClient(app).patch(
        "/api/v1/me",
        json={"password": "taken over!", "current_password": PASSWORD},
        headers=tenant.admin.auth,
    )
    assert (r.status_code, r.json()["error"]["code"]) == (403, "session_required")
    login(TestClient(app), tenant.admin.email, PASSWORD)
