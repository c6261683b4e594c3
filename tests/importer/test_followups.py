"""After an import, what events would have set off catches up in bulk: segments on fields take
the imported contacts in, fit scores count them, lifecycle entry rules move them."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

import guanxi.importer.tasks
import guanxi.lifecycle.tasks
import guanxi.scoring.tasks  # noqa: F401  (these register the import, re-apply and re-score jobs)
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
