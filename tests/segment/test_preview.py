"""The segment builder's live preview through the API: count and sample of a behavioural and
profile condition, the reader's data scope, refused conditions."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.auth.permissions import Role
from tests.factories import add_fields, make_tenant

PRICING_TWICE = {
    "kind": "and",
    "all": [
        {"kind": "field", "field": "city", "op": "eq", "value": "上海"},
        {
            "kind": "event",
            "type": "page_view",
            "where": [{"property": "url", "op": "contains", "value": "/pricing"}],
            "window": {"days": 14},
            "op": "gte",
            "value": 2,
        },
    ],
}


def test_preview_counts_and_samples_what_matches(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    h = tenant.admin.auth
    rep = tenant.add(Role.sales)
    people = {}
    for name, city, visits, owner in [
        ("甲", "上海", 2, None),
        ("乙", "上海", 1, None),
        ("丙", "北京", 3, None),
        ("丁", "上海", 3, rep.user_id),
    ]:
        body = {"name": name, "city": city, **({"owner_id": str(owner)} if owner else {})}
        people[name] = client.post("/api/v1/contacts", json=body, headers=h).json()["id"]
        client.post(
            "/api/v1/events/batch",
            json={
                "events": [
                    {
                        "type": "page_view",
                        "contact_id": people[name],
                        "properties": {"url": "/pricing"},
                    }
                    for _ in range(visits)
                ]
            },
            headers=h,
        )
    r = client.post("/api/v1/segments/preview", json={"condition": PRICING_TWICE}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["count"] == 2
    assert {c["id"] for c in r.json()["sample"]} == {people["甲"], people["丁"]}
    mine = client.post(
        "/api/v1/segments/preview", json={"condition": PRICING_TWICE}, headers=rep.auth
    )
    assert mine.json()["count"] == 1  # a sales rep sees their own contacts only
    did_not = {"kind": "event", "type": "page_view", "op": "eq", "value": 0}
    assert (
        client.post("/api/v1/segments/preview", json={"condition": did_not}, headers=h).json()[
            "count"
        ]
        == 0
    )


def test_refused_conditions_say_why(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    add_fields(
        app, tenant, {"object": "contact", "key": "budget", "label": "预算", "type": "number"}
    )
    for condition, words in [
        ({"kind": "field", "field": "shoe_size", "op": "eq", "value": "42"}, "shoe_size"),
        ({"kind": "field", "field": "custom.budget", "op": "contains", "value": "1"}, "budget"),
        ({"kind": "event", "type": "no_such_event"}, "no_such_event"),
    ]:
        r = client.post(
            "/api/v1/segments/preview", json={"condition": condition}, headers=tenant.admin.auth
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "invalid_condition"
        assert words in r.json()["error"]["message"]
    shape = client.post(
        "/api/v1/segments/preview", json={"condition": {"kind": "maybe"}}, headers=tenant.admin.auth
    )
    assert shape.status_code == 422
