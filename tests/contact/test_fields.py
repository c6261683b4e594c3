"""Custom fields: definitions through the API and typed validation of values."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.auth.permissions import Role
from guanxi.contact.fields import FieldType, coerce
from guanxi.errors import InvalidValue
from tests.factories import TOPICS, add_fields, make_tenant


@pytest.mark.parametrize(
    ("kind", "options", "raw", "stored"),
    [
        (FieldType.number, [], "1,200", 1200),
        (FieldType.number, [], 3.5, 3.5),
        (FieldType.date, [], "2026/11/23", "2026-11-23"),
        (FieldType.boolean, [], "是", True),
        (FieldType.boolean, [], "no", False),
        (FieldType.select, ["KA", "SMB"], "KA", "KA"),
        (FieldType.multi_select, ["a", "b", "c"], "c;a", ["a", "c"]),
        (FieldType.multi_select, ["a", "b"], ["b", "b"], ["b"]),
        (FieldType.text, [], "  hi  ", "hi"),
        (FieldType.text, [], "", None),
    ],
)
def test_values_are_coerced(
    kind: FieldType, options: list[str], raw: object, stored: object
) -> None:
    assert coerce(kind, options, raw) == stored


@pytest.mark.parametrize(
    ("kind", "options", "raw"),
    [
        (FieldType.number, [], "twelve"),
        (FieldType.number, [], "1e20"),
        (FieldType.date, [], "2026-13-01"),
        (FieldType.boolean, [], "maybe"),
        (FieldType.select, ["KA"], "SMB"),
        (FieldType.multi_select, ["a"], "a,z"),
        (FieldType.number, [], True),
    ],
)
def test_bad_values_are_refused(kind: FieldType, options: list[str], raw: object) -> None:
    with pytest.raises(InvalidValue):
        coerce(kind, options, raw)


def test_fields_through_the_api(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    r = client.post(
        "/api/v1/custom-fields",
        json={
            "object": "contact",
            "key": "budget",
            "label": "预算",
            "type": "number",
            "required": True,
        },
        headers=h,
    )
    assert r.status_code == 201
    field = r.json()
    r = client.post(
        "/api/v1/custom-fields",
        json={"object": "contact", "key": "budget", "label": "Again", "type": "text"},
        headers=h,
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "already_exists")
    r = client.post(
        "/api/v1/custom-fields",
        json={"object": "account", "key": "tier2", "label": "T", "type": "select"},
        headers=h,
    )
    assert r.status_code == 422  # a select needs options
    r = client.post(
        "/api/v1/custom-fields",
        json={"object": "contact", "key": "Bad Key", "label": "T", "type": "text"},
        headers=h,
    )
    assert r.status_code == 422
    # required on create, typed on write, filterable
    r = client.post("/api/v1/contacts", json={"name": "No budget"}, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_field")
    r = client.post(
        "/api/v1/contacts", json={"name": "Bad", "custom": {"budget": "lots"}}, headers=h
    )
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_field")
    assert "budget" in r.json()["error"]["message"]
    r = client.post(
        "/api/v1/contacts", json={"name": "Rich", "custom": {"budget": "5000"}}, headers=h
    )
    assert r.status_code == 201
    assert r.json()["custom"] == {"budget": 5000}
    client.post("/api/v1/contacts", json={"name": "Poor", "custom": {"budget": 10}}, headers=h)
    found = client.get("/api/v1/contacts?custom.budget=5000", headers=h).json()["items"]
    assert [c["name"] for c in found] == ["Rich"]
    r = client.get("/api/v1/contacts?custom.nope=1", headers=h)
    assert r.status_code == 422
    r = client.patch(
        f"/api/v1/custom-fields/{field['id']}", json={"label": "Budget (CNY)"}, headers=h
    )
    assert r.json()["label"] == "Budget (CNY)"
    rep = tenant.add(Role.sales)
    r = client.post(
        "/api/v1/custom-fields",
        json={"object": "contact", "key": "x", "label": "X", "type": "text"},
        headers=rep.auth,
    )
    assert r.status_code == 403


def test_custom_filters_compare_as_the_field_type(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    add_fields(
        app,
        tenant,
        {"object": "contact", "key": "budget", "label": "Budget", "type": "number"},
        {"object": "contact", "key": "vip", "label": "VIP", "type": "boolean"},
        TOPICS,
    )
    people = {
        "A": {"budget": 5000, "vip": True, "topics": ["AI", "IoT"]},
        "B": {"budget": 5000.5, "vip": False, "topics": ["SaaS"]},
        "C": {"budget": 10, "topics": ["AI"]},
    }
    for name, custom in people.items():
        r = client.post("/api/v1/contacts", json={"name": name, "custom": custom}, headers=h)
        assert r.status_code == 201, r.text

    def names(query: str) -> list[str]:
        r = client.get(f"/api/v1/contacts?{query}&sort=name", headers=h)
        assert r.status_code == 200, r.text
        return [c["name"] for c in r.json()["items"]]

    assert names("custom.budget=5000.0") == ["A"]
    assert names("custom.budget=5,000.5") == ["B"]
    assert names("custom.vip=true") == ["A"]
    assert names("custom.vip=否") == ["B"]
    assert names("custom.topics=AI") == ["A", "C"]
    assert names("custom.topics=AI;IoT") == ["A"]
    assert names("custom.topics=AI&custom.vip=yes") == ["A"]
    r = client.get("/api/v1/contacts?custom.budget=lots", headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_field")
