"""A tag, a scoring model or a segment that a stored condition reads cannot be deleted (409,
nothing deleted); a condition naming something that is gone all the same is left aside by the
reactors instead of failing every event batch."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete

from guanxi.models import ScoreModel
from tests.factories import make_tenant


def test_what_a_condition_reads_cannot_be_deleted(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    tag = tenant.call("POST", "/tags", json={"name": "热"})
    model = tenant.call("POST", "/scoring/models", json={"name": "Eng"})
    target = tenant.call("POST", "/segments", json={"name": "Target", "kind": "static"})
    tenant.call(
        "POST",
        "/tag-rules",
        json={
            "name": "hot and scored",
            "tag_id": tag["id"],
            "event_type": "page_view",
            "condition": {"kind": "score", "model": model["id"], "op": "gte", "value": 10},
        },
    )
    tenant.call(
        "POST",
        "/segments",
        json={
            "name": "Hot targets",
            "condition": {
                "kind": "and",
                "all": [
                    {"kind": "tag", "tags": [tag["id"]]},
                    {"kind": "segment", "segment": target["id"]},
                ],
            },
        },
    )
    for url, code in (
        (f"/api/v1/tags/{tag['id']}", "tag_in_use"),
        (f"/api/v1/scoring/models/{model['id']}", "scoring_model_in_use"),
        (f"/api/v1/segments/{target['id']}", "segment_in_use"),
    ):
        r = client.delete(url, headers=tenant.admin.auth)
        assert (r.status_code, r.json()["error"]["code"]) == (409, code), r.text
        assert client.get(url, headers=tenant.admin.auth).status_code == 200  # still there


def test_a_condition_naming_a_model_that_is_gone_is_left_aside(app: FastAPI) -> None:
    tenant = make_tenant(app)
    model = tenant.call("POST", "/scoring/models", json={"name": "Old"})
    scored = {"kind": "score", "model": model["id"], "op": "gte", "value": 10}
    tenant.call("POST", "/segments", json={"name": "Scored", "condition": scored})
    with tenant.session() as s:  # gone behind the API's back (as before deletes were checked)
        s.execute(delete(ScoreModel).where(ScoreModel.id == int(model["id"])))
    view = {
        "type": "page_view",
        "properties": {"url": "https://acme.cn/"},
        "identities": [{"kind": "email", "value": "after@acme.cn"}],
    }
    result = tenant.call("POST", "/events/batch", json={"events": [view]})
    assert result["accepted"] == 1
