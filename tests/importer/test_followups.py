"""After an import, what events would have set off catches up in bulk: segments on fields take
the imported contacts in, fit scores count them, lifecycle entry rules move them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import guanxi.importer.tasks
import guanxi.lifecycle.tasks
import guanxi.scoring.tasks  # noqa: F401  (these register the import, re-apply and re-score jobs)
from guanxi.importer import service
from guanxi.worker import jobs
from tests.factories import make_tenant

SHANGHAI = {"kind": "field", "field": "city", "op": "eq", "value": "上海"}


def test_imported_contacts_join_segments_scores_and_stages(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    segment = tenant.call("POST", "/segments", json={"name": "上海", "condition": SHANGHAI})
    model = tenant.call("POST", "/scoring/models", json={"name": "Fit"})
    tenant.call(
        "POST",
        f"/scoring/models/{model['id']}/rules",
        json={"kind": "fit", "name": "上海", "condition": SHANGHAI, "points": 40},
    )
    mql = next(s for s in tenant.call("GET", "/lifecycle/stages")["items"] if s["key"] == "mql")
    tenant.call("PATCH", f"/lifecycle/stages/{mql['id']}", json={"entry_rule": SHANGHAI})
    while jobs.run_one(app.state.sessionmaker):
        pass  # the rule changes' own jobs, on an empty workspace

    csv = "邮箱,城市\nsh@example.test,上海\nbj@example.test,北京\n"
    upload = client.post(
        "/api/v1/imports/files",
        files={"file": ("c.csv", csv.encode(), "text/csv")},
        headers=tenant.admin.auth,
    ).json()
    tenant.call(
        "POST",
        "/imports",
        json={"file_id": upload["file_id"], "mapping": {"邮箱": "email", "城市": "city"}},
    )
    while jobs.run_one(app.state.sessionmaker):
        pass
    people = {c["email"]: c for c in tenant.call("GET", "/contacts")["items"]}
    shanghai, beijing = people["sh@example.test"], people["bj@example.test"]
    members = tenant.call("GET", f"/segments/{segment['id']}/members")["items"]
    assert [m["id"] for m in members] == [shanghai["id"]]
    assert tenant.call("GET", f"/contacts/{shanghai['id']}/scores")[0]["fit"] == 40.0
    assert tenant.call("GET", f"/contacts/{beijing['id']}/scores")[0]["fit"] == 0.0
    stages = {c["email"]: c["stage"] for c in tenant.call("GET", "/contacts")["items"]}
    assert stages["sh@example.test"] == "mql"
    assert stages["bj@example.test"] != "mql"


def test_an_import_fills_a_static_list(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    known = tenant.call("POST", "/contacts", json={"name": "老客户", "email": "old@example.test"})
    guests = tenant.call("POST", "/segments", json={"name": "展会名单", "kind": "static"})
    dynamic = tenant.call("POST", "/segments", json={"name": "上海", "condition": SHANGHAI})
    csv = "邮箱,城市\nnew@example.test,上海\nold@example.test,北京\n"
    upload = client.post(
        "/api/v1/imports/files",
        files={"file": ("c.csv", csv.encode(), "text/csv")},
        headers=tenant.admin.auth,
    ).json()
    body = {"file_id": upload["file_id"], "mapping": {"邮箱": "email", "城市": "city"}}
    refused = client.post(
        "/api/v1/imports", json={**body, "list_id": dynamic["id"]}, headers=tenant.admin.auth
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "segment_not_static")
    tenant.call("POST", "/imports", json={**body, "list_id": guests["id"]})
    while jobs.run_one(app.state.sessionmaker):
        pass
    members = tenant.call("GET", f"/segments/{guests['id']}/members")["items"]
    emails = sorted(m["email"] for m in members)
    assert emails == ["new@example.test", "old@example.test"]
    assert known["id"] in [m["id"] for m in members]
    assert tenant.call("GET", f"/segments/{guests['id']}")["member_count"] == 2


def test_a_cancelled_import_takes_its_list_members_back(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    known = tenant.call("POST", "/contacts", json={"name": "老客户", "email": "k0@example.test"})
    guests = tenant.call("POST", "/segments", json={"name": "名单", "kind": "static"})
    monkeypatch.setattr(service, "BATCH", 50)
    csv = "邮箱\n" + "".join(f"k{i}@example.test\n" for i in range(150))
    upload = client.post(
        "/api/v1/imports/files",
        files={"file": ("k.csv", csv.encode(), "text/csv")},
        headers=tenant.admin.auth,
    ).json()
    job = tenant.call(
        "POST",
        "/imports",
        json={"file_id": upload["file_id"], "mapping": {"邮箱": "email"}, "list_id": guests["id"]},
    )
    original, calls = service.plan, {"n": 0}

    def plan(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:  # the first batch is written by then
            with tenant.session() as s:
                jobs.request_cancel(s, tenant.workspace_id, int(job["id"]))
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "plan", plan)
    while jobs.run_one(app.state.sessionmaker):
        pass
    assert tenant.call("GET", f"/imports/{job['id']}")["status"] == "cancelled"
    assert tenant.call("GET", f"/segments/{guests['id']}/members")["items"] == []
    assert tenant.call("GET", f"/segments/{guests['id']}")["member_count"] == 0
    assert tenant.call("GET", f"/contacts/{known['id']}")["contact"]["status"] == "active"
