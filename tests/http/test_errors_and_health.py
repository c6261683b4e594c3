"""The error shape in both languages, request ids, health, readiness and metrics."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.app import create_app
from guanxi.auth.permissions import Role
from guanxi.config import Settings
from tests.factories import make_tenant


@pytest.mark.parametrize(
    ("accept", "message"),
    [
        ("en-US,en;q=0.9", "Member not found."),
        ("zh-CN,zh;q=0.9", "成员不存在。"),
        ("fr, zh;q=0.5", "成员不存在。"),
    ],
)
def test_errors_speak_the_callers_language(app: FastAPI, accept: str, message: str) -> None:
    tenant = make_tenant(app)
    r = TestClient(app).get(
        "/api/v1/users/123", headers={**tenant.admin.auth, "Accept-Language": accept}
    )
    assert r.status_code == 404
    assert r.json() == {"error": {"code": "not_found", "message": message, "details": None}}


def test_validation_errors_list_the_fields(app: FastAPI) -> None:
    tenant = make_tenant(app)
    r = TestClient(app).post("/api/v1/departments", json={"nam": "typo"}, headers=tenant.admin.auth)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "validation_error"
    locs = {tuple(d["loc"]) for d in error["details"]}
    assert ("body", "name") in locs
    assert ("body", "nam") in locs


def test_unreadable_bodies_unknown_paths_and_methods(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    r = client.post(
        "/api/v1/departments",
        content=b"{not json",
        headers={**tenant.admin.auth, "Content-Type": "application/json"},
    )
    assert r.status_code in (400, 422)
    assert r.json()["error"]["code"] in ("invalid_body", "validation_error")
    r = client.get("/api/v1/nothing-here", headers=tenant.admin.auth)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    r = client.put("/api/v1/workspace", headers=tenant.admin.auth)
    assert (r.status_code, r.json()["error"]["code"]) == (405, "method_not_allowed")


def test_request_ids_are_echoed_or_made(app: FastAPI) -> None:
    client = TestClient(app)
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    made = client.get("/healthz").headers["x-request-id"]
    assert len(made) == 32


def test_health_readiness_and_metrics(app: FastAPI) -> None:
    client = TestClient(app)
    assert client.get("/healthz").json() == {"status": "ok", "database": None, "detail": None}
    assert client.get("/readyz").json()["status"] == "ok"
    client.get("/api/v1/me")
    text = client.get("/metrics").text
    assert 'guanxi_http_requests_total{method="GET",route="/api/v1/me",status="401"}' in text
    assert "guanxi_http_request_seconds_bucket" in text


def test_readiness_fails_while_migrations_are_pending(tmp_path: object) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/empty.db", secret_key="x")
    app = create_app(settings)
    r = TestClient(app).get("/readyz")
    assert r.status_code == 503
    assert r.json()["detail"] == "migrations pending"
    app.state.engine.dispose()


def test_readiness_fails_when_the_database_is_down() -> None:
    settings = Settings(
        database_url="postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", secret_key="x"
    )
    app = create_app(settings)
    r = TestClient(app).get("/readyz")
    assert r.status_code == 503
    assert r.json()["database"] == "down"


def test_a_crash_is_500_with_its_request_id_logged_and_counted(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(app)
    from guanxi.workspace import service

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(service, "list_departments", boom)
    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/api/v1/departments", headers={**tenant.admin.auth, "X-Request-ID": "crash-1"})
    assert r.status_code == 500
    assert r.headers["x-request-id"] == "crash-1"
    assert r.json()["error"] == {
        "code": "internal_error",
        "message": "Something went wrong on our side. The team can trace it by the request id.",
        "details": {"request_id": "crash-1"},
    }
    assert 'route="/api/v1/departments",status="500"' in client.get("/metrics").text


def test_a_concurrent_duplicate_is_409_not_500(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests creating the same login at once both pass the check; the database's unique
    key refuses the second, which answers 409 and leaves the first intact."""
    tenant = make_tenant(app)
    rep = tenant.add(Role.sales)
    from guanxi.workspace import members

    monkeypatch.setattr(members.users, "by_email", lambda *a, **k: None)  # the check both pass
    body = {"email": rep.email, "name": "Twin", "role": "admin", "password": "longenough"}
    r = TestClient(app).post("/api/v1/users", json=body, headers=tenant.admin.auth)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "conflict")
    monkeypatch.undo()
    member = TestClient(app).get(f"/api/v1/users/{rep.user_id}", headers=tenant.admin.auth).json()
    assert member["role"] == "sales"


def test_every_answer_carries_the_security_headers(app: FastAPI) -> None:
    client = TestClient(app)
    for path in ("/app/login", "/api/v1/me", "/healthz"):
        headers = client.get(path).headers
        assert headers["x-frame-options"] == "DENY"
        assert headers["content-security-policy"] == "frame-ancestors 'none'"
        assert headers["x-content-type-options"] == "nosniff"
