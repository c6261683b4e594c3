"""API keys: bearer authentication, scopes, revocation, expiry, last use."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.auth.permissions import Role
from guanxi.kit.clock import utcnow
from tests.factories import make_tenant


def test_a_revoked_key_is_refused_with_401(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    created = client.post(
        "/api/v1/api-keys", json={"name": "sync", "scopes": ["*"]}, headers=tenant.admin.auth
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
    created = client.post(
        "/api/v1/api-keys",
        json={"name": "reader", "scopes": ["users:read"]},
        headers=tenant.admin.auth,
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


def test_keys_cannot_grant_more_than_the_role_or_the_key_creating_them(app: FastAPI) -> None:
    tenant = make_tenant(app)
    rep = tenant.add(Role.sales)
    client = TestClient(app)
    r = client.post(
        "/api/v1/api-keys", json={"name": "x", "scopes": ["users:write"]}, headers=rep.auth
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "scope_not_allowed"
    narrow = client.post(
        "/api/v1/api-keys",
        json={"name": "n", "scopes": ["api_keys:write"]},
        headers=tenant.admin.auth,
    ).json()
    r = client.post(
        "/api/v1/api-keys",
        json={"name": "wider", "scopes": ["users:write"]},
        headers={"Authorization": f"Bearer {narrow['secret']}"},
    )
    assert r.status_code == 403
    r = client.post(
        "/api/v1/api-keys",
        json={"name": "bad", "scopes": ["contacts:eat"]},
        headers=tenant.admin.auth,
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_scope"
    names = [
        k["name"]
        for k in client.get("/api/v1/api-keys?limit=200", headers=tenant.admin.auth).json()["items"]
    ]
    assert "wider" not in names
    assert "bad" not in names


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
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    r = client.post(
        "/api/v1/api-keys",
        json={"name": "old", "scopes": ["*"], "expires_at": past},
        headers=tenant.admin.auth,
    )
    assert r.status_code == 400
    soon = (utcnow() + timedelta(days=1)).isoformat()
    created = client.post(
        "/api/v1/api-keys",
        json={"name": "soon", "scopes": ["*"], "expires_at": soon},
        headers=tenant.admin.auth,
    ).json()
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
