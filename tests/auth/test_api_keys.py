"""API keys: bearer authentication, scopes, revocation, expiry, last use."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.auth.permissions import Role
from guanxi.kit.clock import utcnow
from tests.factories import login, make_tenant


def test_a_revoked_key_is_refused_with_401(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    as_admin = {"X-CSRF-Token": login(client, tenant.admin.email)}
    created = client.post(
        "/api/v1/api-keys", json={"name": "sync", "scopes": ["*"]}, headers=as_admin
    ).json()
    key = {"Authorization": f"Bearer {created['secret']}"}
    assert client.get("/api/v1/me", headers=key).status_code == 200
    assert (
        client.post(
            f"/api/v1/api-keys/{created['id']}/revoke", headers=tenant.admin.auth
        ).status_code
        == 200
    )
    r = client.get("/api/v1/me", headers=key)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key"
    assert r.headers["www-authenticate"] == "Bearer"


def test_a_missing_scope_is_refused_with_403_and_writes_nothing(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    as_admin = {"X-CSRF-Token": login(client, tenant.admin.email)}
    created = client.post(
        "/api/v1/api-keys", json={"name": "reader", "scopes": ["users:read"]}, headers=as_admin
    ).json()
    key = {"Authorization": f"Bearer {created['secret']}"}
    assert client.get("/api/v1/users", headers=key).status_code == 200
    r = client.post("/api/v1/departments", json={"name": "Nope"}, headers=key)
    assert r.status_code == 403
    assert r.json()["error"] == {
        "code": "insufficient_scope",
        "message": "The API key lacks the scope departments:write.",
        "details": None,
    }
    assert client.get("/api/v1/departments", headers=tenant.admin.auth).json()["items"] == []


def test_keys_cannot_grant_more_than_the_role_nor_make_keys(app: FastAPI) -> None:
    tenant = make_tenant(app)
    rep = tenant.add(Role.sales)
    client = TestClient(app)
    as_rep = {"X-CSRF-Token": login(client, rep.email)}
    r = client.post(
        "/api/v1/api-keys", json={"name": "x", "scopes": ["users:write"]}, headers=as_rep
    )
    assert (r.status_code, r.json()["error"]["code"]) == (403, "scope_not_allowed")
    r = client.post(
        "/api/v1/api-keys", json={"name": "bad", "scopes": ["contacts:eat"]}, headers=as_rep
    )
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_scope")
    # a key cannot make keys: revoking a key must end everything it could do
    r = TestClient(app).post(
        "/api/v1/api-keys", json={"name": "child", "scopes": ["*"]}, headers=tenant.admin.auth
    )
    assert (r.status_code, r.json()["error"]["code"]) == (403, "session_required")
    names = [
        k["name"]
        for k in TestClient(app)
        .get("/api/v1/api-keys?limit=200", headers=tenant.admin.auth)
        .json()["items"]
    ]
    assert not {"x", "bad", "child"} & set(names)


def test_malformed_unknown_and_expired_keys(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    for header in (
        "Bearer nonsense",
        "Bearer gx_",
        "Bearer gx_abc_def",
        f"Bearer {tenant.admin.key}x",
    ):
        r = client.get("/api/v1/me", headers={"Authorization": header})
        assert r.status_code == 401, header
        assert r.json()["error"]["code"] == "invalid_api_key"
    r = client.get("/api/v1/me")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "not_authenticated"
    as_admin = {"X-CSRF-Token": login(client, tenant.admin.email)}

    def create(expires_at: str) -> object:
        body = {"name": "timed", "scopes": ["*"], "expires_at": expires_at}
        return client.post("/api/v1/api-keys", json=body, headers=as_admin)

    past = (utcnow() - timedelta(minutes=1)).isoformat()
    assert create(past).status_code == 400  # type: ignore[attr-defined]
    assert create((utcnow() + timedelta(days=4000)).isoformat()).status_code == 400  # type: ignore[attr-defined]
    assert create("2030-01-01T00:00:00").status_code == 422  # type: ignore[attr-defined]
    assert create("9999-12-31T23:59:59-12:00").status_code == 422  # type: ignore[attr-defined]
    created = create((utcnow() + timedelta(days=1)).isoformat()).json()  # type: ignore[attr-defined]
    from guanxi.auth import service
    from guanxi.errors import InvalidApiKey

    with tenant.session() as s:
        try:
            service.authenticate_api_key(s, created["secret"], utcnow() + timedelta(days=2))
            raise AssertionError("an expired key authenticated")
        except InvalidApiKey:
            pass


def test_use_is_recorded_and_a_deactivated_owner_locks_the_key(app: FastAPI) -> None:
    tenant = make_tenant(app)
    rep = tenant.add(Role.sales)
    client = TestClient(app)
    assert client.get("/api/v1/me", headers=rep.auth).status_code == 200
    keys = client.get(f"/api/v1/api-keys?owner_id={rep.user_id}", headers=tenant.admin.auth).json()[
        "items"
    ]
    assert keys[0]["last_used_at"] is not None
    r = client.patch(
        f"/api/v1/users/{rep.user_id}", json={"is_active": False}, headers=tenant.admin.auth
    )
    assert r.status_code == 200
    assert client.get("/api/v1/me", headers=rep.auth).status_code == 401


def test_the_secret_is_stored_only_as_a_digest(app: FastAPI) -> None:
    tenant = make_tenant(app)
    from sqlalchemy import select

    from guanxi.models import ApiKey

    secret = tenant.admin.key.split("_", 2)[2]
    with tenant.session() as s:
        rows = s.scalars(select(ApiKey).where(ApiKey.workspace_id == tenant.workspace_id)).all()
        assert rows
        for row in rows:
            assert secret not in (row.secret_digest, row.prefix, row.name)
