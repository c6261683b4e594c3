"""A merge carries scores, segment memberships and static lists to the survivor, and its undo
brings them back (through the API, on both databases)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from tests.factories import make_tenant


def test_scores_segments_and_lists_follow_a_merge_and_its_undo(app: FastAPI) -> None:
    tenant = make_tenant(app)
    model = tenant.call("POST", "/scoring/models", json={"name": "Eng"})
    tenant.call(
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
    dynamic = tenant.call("POST", "/segments", json={"name": "Filled", "condition": filled})
    vip = tenant.call("POST", "/segments", json={"name": "VIP", "kind": "static"})
    keep = tenant.call("POST", "/contacts", json={"name": "Keep", "email": "keep@acme.cn"})["id"]
    other = tenant.call("POST", "/contacts", json={"name": "Other", "phone": "13900001111"})["id"]
    tenant.call("POST", f"/segments/{vip['id']}/members", json={"contact_ids": [other]})
    form = {
        "type": "form_submit",
        "properties": {"form_id": "1"},
        "identities": [{"kind": "phone", "value": "13900001111"}],
        "idempotency_key": "f1",
    }
    tenant.call("POST", "/events/batch", json={"events": [form]})

    def score(contact_id: str) -> float:
        return float(tenant.call("GET", f"/contacts/{contact_id}/scores")[0]["score"])

    def members(segment: dict[str, Any]) -> list[str]:
        return [m["id"] for m in tenant.call("GET", f"/segments/{segment['id']}/members")["items"]]

    assert (score(keep), score(other)) == (0.0, 20.0)
    assert members(dynamic) == [other]
    assert members(vip) == [other]

    merge = tenant.call("POST", f"/contacts/{keep}/merge", json={"other_id": other})
    assert score(keep) == 20.0
    assert members(dynamic) == [keep]
    assert members(vip) == [keep]
    assert tenant.call("GET", f"/segments/{vip['id']}")["member_count"] == 1

    tenant.call("POST", f"/merges/{merge['id']}/undo")
    assert (score(keep), score(other)) == (0.0, 20.0)
    assert members(dynamic) == [other]
    assert members(vip) == [other]
    assert tenant.call("GET", f"/segments/{dynamic['id']}")["member_count"] == 1


def test_a_stage_the_merge_fills_is_a_move_in_the_history(app: FastAPI) -> None:
    tenant = make_tenant(app)
    keep = tenant.call("POST", "/contacts", json={"name": "Keep", "email": "k2@acme.cn"})["id"]
    other = tenant.call("POST", "/contacts", json={"name": "Other", "stage": "sql"})["id"]

    def history(contact_id: str) -> list[tuple[str | None, str, str]]:
        items = tenant.call("GET", f"/contacts/{contact_id}/stages")["items"]
        return [(c["from_stage"], c["to_stage"], c["cause"]) for c in items]

    merge = tenant.call("POST", f"/contacts/{keep}/merge", json={"other_id": other})
    assert tenant.call("GET", f"/contacts/{keep}")["contact"]["stage"] == "sql"
    assert history(keep) == [(None, "sql", "merge")]
    tenant.call("POST", f"/merges/{merge['id']}/undo")
    assert tenant.call("GET", f"/contacts/{keep}")["contact"]["stage"] is None
    assert history(keep) == []
    assert history(other) == [(None, "sql", "api")]
