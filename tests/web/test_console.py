"""The console through HTTP: sign-in, language, workspace switch, members and API keys screens."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.auth.permissions import Role
from tests.factories import PASSWORD, login, make_tenant, unique_email


def post_login(
    client: TestClient, email: str, password: str = PASSWORD, next: str = "/app"
) -> object:
    """Submit the sign-in form as a browser does: load it first (its CSRF cookie), then post."""
    form = client.get("/app/login").text
    token = re.search(r'name="login_csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    data = {"email": email, "password": password, "next": next, "login_csrf": token}
    return client.post("/app/login", data=data, follow_redirects=False)


def console_login(app: FastAPI, email: str, language: str = "en") -> TestClient:
    client = TestClient(app, headers={"Accept-Language": language})
    r = post_login(client, email)
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    return client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_the_console_asks_to_sign_in_first(app: FastAPI) -> None:
    client = TestClient(app)
    r = client.get("/app/settings/users?x=1", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/app/login?next=/app/settings/users%3Fx%3D1"
    assert client.get("/", follow_redirects=False).headers["location"] == "/app"


def test_login_page_in_both_languages(app: FastAPI) -> None:
    en = TestClient(app, headers={"Accept-Language": "en"}).get("/app/login").text
    assert "Sign in" in en
    assert '<html lang="en">' in en
    zh = TestClient(app, headers={"Accept-Language": "zh-CN"}).get("/app/login").text
    assert "登录" in zh
    assert '<html lang="zh-CN">' in zh


def test_bad_password_shows_an_error_and_a_good_one_opens_the_shell(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app, headers={"Accept-Language": "zh-CN"})
    r = post_login(client, tenant.admin.email, "nope")
    assert r.status_code == 401  # type: ignore[attr-defined]
    assert "邮箱或密码错误。" in r.text  # type: ignore[attr-defined]
    assert "guanxi_session" not in client.cookies
    # a form posted from elsewhere (no CSRF cookie and token) signs nobody in
    forged = TestClient(app).post(
        "/app/login",
        data={"email": tenant.admin.email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert "guanxi_session" not in forged.cookies
    r = post_login(client, tenant.admin.email, next="https://evil.example/")
    assert r.headers["location"] == "/app"  # type: ignore[attr-defined]
    home = client.get("/app").text
    assert "Acme 测试" in home
    assert 'data-testid="nav-settings"' in home


def test_language_switch_is_remembered_on_the_user(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = console_login(app, tenant.admin.email, "en")
    page = client.get("/app").text
    assert "Welcome" in page
    r = client.post(
        "/app/language",
        data={"language": "zh_CN", "next": "/app", "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert client.cookies["guanxi_lang"] == "zh_CN"
    assert "欢迎" in client.get("/app").text
    # a new browser without the cookie still gets Chinese: the choice is saved on the user
    fresh = TestClient(app)
    post_login(fresh, tenant.admin.email)
    fresh.cookies.delete("guanxi_lang")
    assert "欢迎" in fresh.get("/app").text
    # without the form's CSRF token (a cross-site post) only the caller's cookie changes
    fresh.post("/app/language", data={"language": "en", "next": "/app"})
    assert (
        TestClient(app).get("/api/v1/me", headers=tenant.admin.auth).json()["user"]["language"]
        == "zh_CN"
    )


def test_admin_adds_a_member_and_a_department(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = console_login(app, tenant.admin.email)
    page = client.get("/app/settings/users").text
    token = csrf_of(page)
    r = client.post(
        "/app/settings/departments",
        data={"name": "华东团队", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get("/app/settings/users").text
    department_id = re.search(r'<option value="(\d+)">华东团队</option>', page).group(1)  # type: ignore[union-attr]
    email = unique_email("console")
    r = client.post(
        "/app/settings/users",
        data={
            "email": email,
            "name": "陈静",
            "password": "longenough",
            "role": "sales",
            "department_id": department_id,
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    members = (
        TestClient(app).get("/api/v1/users?limit=200", headers=tenant.admin.auth).json()["items"]
    )
    added = next(m for m in members if m["email"] == email)
    assert (added["role"], added["department_id"]) == ("sales", department_id)
    # a bad form answers with the page and the reason, and writes nothing
    r = client.post(
        "/app/settings/users",
        data={
            "email": "not-an-email",
            "name": "X",
            "role": "sales",
            "password": "longenough",
            "csrf_token": token,
        },
    )
    assert r.status_code == 422
    assert 'data-testid="form-error"' in r.text
    assert "(email: " in r.text  # the field and why
    assert len(
        TestClient(app).get("/api/v1/users?limit=200", headers=tenant.admin.auth).json()["items"]
    ) == len(members)


def test_forms_without_the_csrf_token_are_refused(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = console_login(app, tenant.admin.email)
    r = client.post("/app/settings/departments", data={"name": "Forged"})
    assert r.status_code == 403
    assert "<html" in r.text
    assert (
        TestClient(app).get("/api/v1/departments", headers=tenant.admin.auth).json()["items"] == []
    )


def test_a_viewer_sees_members_read_only_and_cannot_post(app: FastAPI) -> None:
    tenant = make_tenant(app)
    viewer = tenant.add(Role.viewer)
    client = console_login(app, viewer.email)
    page = client.get("/app/settings/users").text
    assert 'data-testid="add-member"' not in page
    assert tenant.admin.email in page
    r = client.post("/app/settings/departments", data={"name": "Nope", "csrf_token": csrf_of(page)})
    assert r.status_code == 403
    assert (
        TestClient(app).get("/api/v1/departments", headers=tenant.admin.auth).json()["items"] == []
    )
    keys = client.get("/app/settings/api-keys").text
    assert 'data-testid="create-key"' not in keys


def test_api_key_screen_shows_the_secret_once_and_revokes(app: FastAPI) -> None:
    tenant = make_tenant(app)
    rep = tenant.add(Role.sales)
    client = console_login(app, rep.email)
    page = client.get("/app/settings/api-keys").text
    assert "users:write" not in page  # a sales rep cannot grant what their role lacks
    r = client.post(
        "/app/settings/api-keys",
        data={"name": "CRM sync", "scopes": ["users:read"], "csrf_token": csrf_of(page)},
    )
    assert r.status_code == 200
    secret = re.search(r'data-testid="new-secret">.*?<code>(gx_[^<]+)</code>', r.text, re.S).group(
        1
    )  # type: ignore[union-attr]
    api = TestClient(app)
    assert (
        api.get("/api/v1/users", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    )
    again = client.get("/app/settings/api-keys").text
    assert secret not in again
    key_id = re.search(r"/app/settings/api-keys/(\d+)/revoke", again).group(1)  # type: ignore[union-attr]
    r = client.post(
        f"/app/settings/api-keys/{key_id}/revoke",
        data={"csrf_token": csrf_of(again)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert (
        api.get("/api/v1/users", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    )


def test_workspace_switcher(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api = TestClient(app)

    csrf = login(api, tenant.admin.email)
    other = api.post(
        "/api/v1/workspaces", json={"name": "分公司 Branch"}, headers={"X-CSRF-Token": csrf}
    ).json()
    client = console_login(app, tenant.admin.email)
    page = client.get("/app").text
    assert "分公司 Branch" in page
    r = client.post(
        "/app/workspace",
        data={"workspace_id": other["id"], "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "Workspace: 分公司 Branch" in client.get("/app").text
    r = client.post("/app/workspace", data={"workspace_id": "1", "csrf_token": csrf_of(page)})
    assert r.status_code == 403


def test_the_language_picked_on_the_sign_in_page_wins_and_is_saved(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api = TestClient(app)
    csrf = login(api, tenant.admin.email)
    api.patch("/api/v1/me", json={"language": "zh_CN"}, headers={"X-CSRF-Token": csrf})
    client = TestClient(app)
    client.post("/app/language", data={"language": "en", "next": "/app/login"})
    assert post_login(client, tenant.admin.email).status_code == 303  # type: ignore[attr-defined]
    assert "Welcome" in client.get("/app").text
    assert api.get("/api/v1/me").json()["user"]["language"] == "en"
