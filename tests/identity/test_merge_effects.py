"""A merge carries scores, segment memberships and static lists to the survivor, and its undo
brings them back (through the API, on both databases)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import Tenant, make_tenant


def api(client: TestClient, tenant: Tenant, method: str, url: str, **kw: Any) -> Any:
    r = client.request(method, f"/api/v1{url}", headers=tenant.admin.auth, **kw)
    assert r.status_code < 300, r.text
    return r.json() if r.content else None


def test_scores_segments_and_lists_follow_a_merge_and_its_undo(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    model = api(client, tenant, "POST", "/scoring/models", json={"name": "Eng"})
    api(
        client,
        tenant,
        "POST",
        f"/scoring/models/{model['id']}/rules",
        json={"kind": "engagement", "name": "form", "event_type": "form_submit", "points": 20},
    )
    filled = {
        "kind": "event",
        "type": "form_submit",
        "window": {"days": 30},
        "op": "gte",
        "value": 1,
    }
    dynamic = api(client, tenant, "POST", "/segments", json={"name": "Filled", "condition": filled})
    vip = api(client, tenant, "POST", "/segments", json={"name": "VIP", "kind": "static"})
    keep = api(client, tenant, "POST", "/contacts", json={"name": "Keep", "email": "keep@acme.cn"})[
        "id"
    ]
    other = api(
        client, tenant, "POST", "/contacts", json={"name": "Other", "phone": "13900001111"}
    )["id"]
    api(client, tenant, "POST", f"/segments/{vip['id']}/members", json={"contact_ids": [other]})
    form = {
        "type": "form_submit",
        "properties": {"form_id": "1"},
        "identities": [{"kind": "phone", "value": "13900001111"}],
        "idempotency_key": "f1",
    }
    api(client, tenant, "POST", "/events/batch", json={"events": [form]})

    def score(contact_id: str) -> float:
        return float(api(client, tenant, "GET", f"/contacts/{contact_id}/scores")[0]["score"])

    def members(segment: dict[str, Any]) -> list[str]:
        return [
            m["id"]
            for m in api(client, tenant, "GET", f"/segments/{segment['id']}/members")["items"]
        ]

    assert (score(keep), score(other)) == (0.0, 20.0)
    assert members(dynamic) == [other]
    assert members(vip) == [other]

    merge = api(client, tenant, "POST", f"/contacts/{keep}/merge", json={"other_id": other})
    assert score(keep) == 20.0
    assert members(dynamic) == [keep]
    assert members(vip) == [keep]
    assert api(client, tenant, "GET", f"/segments/{vip['id']}")["member_count"] == 1

    api(client, tenant, "POST", f"/merges/{merge['id']}/undo")
    assert (score(keep), score(other)) == (0.0, 20.0)
    assert members(dynamic) == [other]
    assert members(vip) == [other]
    assert api(client, tenant, "GET", f"/segments/{dynamic['id']}")["member_count"] == 1
