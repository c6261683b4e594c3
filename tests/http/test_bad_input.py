"""Hostile and malformed input answers 4xx with a code — never 500 — and writes nothing."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.auth.permissions import Role
from tests.factories import make_tenant


def forge(payload: list[object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("sort", "payload"),
    [
        ("name", ["name", "v", "x", 2**64]),
        ("name", ["name", "v", {"a": 1}, 5]),
        ("name", ["name", "v", 5, 5]),
        ("name", ["name", "v", "x", True]),
        ("joined_at", ["joined_at", "dt", "2026-01-01T00:00:00", 5]),
        ("joined_at", ["joined_at", "v", "2026-01-01T00:00:00+00:00", 5]),
        ("joined_at", ["joined_at", "dt", "not a date", 5]),
        ("joined_at", ["joined_at", "dt", 12, 5]),
        ("name", ["name", "v", "x"]),
        ("name", "just a string"),
    ],
)
def test_forged_cursors_are_400(app: FastAPI, sort: str, payload: object) -> None:
    tenant = make_tenant(app)
    cursor = forge(payload) if isinstance(payload, list) else payload
    r = TestClient(app).get(f"/api/v1/users?sort={sort}&cursor={cursor}", headers=tenant.admin.auth)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_cursor")


def test_a_genuine_datetime_cursor_still_works(app: FastAPI) -> None:
    tenant = make_tenant(app)
    tenant.add(Role.sales)
    client = TestClient(app)
    first = client.get("/api/v1/users?sort=-joined_at&limit=1", headers=tenant.admin.auth).json()
    r = client.get(
        f"/api/v1/users?sort=-joined_at&limit=1&cursor={first['next_cursor']}",
        headers=tenant.admin.auth,
    )
    assert r.status_code == 200
    assert r.json()["items"][0]["id"] != first["items"][0]["id"]


def test_nul_characters_are_refused_on_both_databases(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    r = client.post(
        "/api/v1/departments", json={"name": "bad\u0000name"}, headers=tenant.admin.auth
    )
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_value")
    r = client.get("/api/v1/users?q=a%00b", headers=tenant.admin.auth)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_value")
    assert client.get("/api/v1/departments", headers=tenant.admin.auth).json()["items"] == []


@pytest.mark.parametrize("value", [str(2**63), str(2**70), "0", "-1", "abc"])
def test_out_of_range_ids_are_422_in_the_api_and_the_console(app: FastAPI, value: str) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    r = client.get(f"/api/v1/users/{value}", headers=tenant.admin.auth)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "validation_error")
    from tests.web.test_console import console_login, csrf_of

    console = console_login(app, tenant.admin.email)
    token = csrf_of(console.get("/app").text)
    for url, data in (
        ("/app/workspace", {"workspace_id": value}),
        (f"/app/settings/users/{value}", {"role": "sales", "data_scope": "own"}),
        (f"/app/settings/api-keys/{value}/revoke", {}),
    ):
        r = console.post(url, data={"csrf_token": token, **data})
        assert r.status_code == 422, url
        assert "<html" in r.text
