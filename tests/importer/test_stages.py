"""An import's stage column goes through the lifecycle: stages named by key or name, unknown
ones reported per row, every move in the history (cause import) and on the timeline, and a
cancel that takes them back."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

import guanxi.importer.tasks  # noqa: F401  (registers the import job)
from guanxi.importer import service
from guanxi.models import Event, StageChange
from guanxi.worker import jobs
from tests.factories import Tenant, make_tenant


def run_import(client: TestClient, tenant: Tenant, csv: str, **options: Any) -> dict[str, Any]:
    h = tenant.admin.auth
    upload = client.post(
        "/api/v1/imports/files", files={"file": ("s.csv", csv.encode(), "text/csv")}, headers=h
    ).json()
    r = client.post(
        "/api/v1/imports",
        json={
            "file_id": upload["file_id"],
            "mapping": {"邮箱": "email", "姓名": "name", "阶段": "stage"},
            **options,
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    while jobs.run_one(client.app.state.sessionmaker):  # type: ignore[attr-defined]
        pass
    return client.get(f"/api/v1/imports/{r.json()['id']}", headers=h).json()  # type: ignore[no-any-return]


def by_email(client: TestClient, tenant: Tenant, email: str) -> dict[str, Any]:
    items = client.get(f"/api/v1/contacts?q={email}", headers=tenant.admin.auth).json()["items"]
    assert len(items) == 1
    return items[0]  # type: ignore[no-any-return]


def history(client: TestClient, tenant: Tenant, cid: str) -> list[tuple[Any, ...]]:
    items = client.get(f"/api/v1/contacts/{cid}/stages", headers=tenant.admin.auth).json()["items"]
    return [(c["from_stage"], c["to_stage"], c["cause"], c["backward"]) for c in items]


def recorded(tenant: Tenant) -> tuple[int, int]:
    with tenant.session() as s:
        ws = tenant.workspace_id
        changes = s.scalar(
            select(func.count()).select_from(StageChange).where(StageChange.workspace_id == ws)
        )
        events = s.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.workspace_id == ws, Event.type == "stage_changed")
        )
    return changes, events


def test_an_import_moves_contacts_through_the_lifecycle(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    known = client.post(
        "/api/v1/contacts",
        json={"name": "老客户", "email": "old@example.test", "stage": "sql"},
        headers=tenant.admin.auth,
    ).json()
    job = run_import(
        client,
        tenant,
        "姓名,邮箱,阶段\n"
        "甲,a@example.test,MQL\n"
        "乙,b@example.test,customer \n"
        "丙,c@example.test,prospect\n"
        "老客户,old@example.test,lead\n",
        overwrite=True,
    )
    assert job["counts"]["problems"] == 1
    problems = client.get(
        f"/api/v1/imports/{job['id']}/problems", headers=tenant.admin.auth
    ).json()["items"]
    assert [(p["line"], p["reason"]) for p in problems] == [(4, "unknown_stage")]

    a = by_email(client, tenant, "a@example.test")
    assert a["stage"] == "mql"
    assert history(client, tenant, a["id"]) == [(None, "mql", "import", False)]
    assert history(client, tenant, known["id"])[0] == ("sql", "lead", "import", True)
    assert by_email(client, tenant, "b@example.test")["stage"] == "customer"
    timeline = client.get(
        f"/api/v1/contacts/{a['id']}/timeline?type=stage_changed", headers=tenant.admin.auth
    ).json()["items"]
    assert timeline[0]["source"] == f"import:{job['id']}"
    assert recorded(tenant) == (4, 4)  # the API's move of the known contact, and three


def test_cancelling_an_import_takes_its_moves_back(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    monkeypatch.setattr(service, "BATCH", 2)
    original, calls = service.plan, {"n": 0}

    def plan(*args: Any, **kwargs: Any) -> Any:  # cancel once the first batch is written
        calls["n"] += 1
        if calls["n"] == 2:
            with tenant.session() as s:
                jobs.request_cancel(s, tenant.workspace_id, int(kwargs.get("job_id", args[2])))
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "plan", plan)
    job = run_import(
        client,
        tenant,
        "姓名,邮箱,阶段\n甲,a@example.test,mql\n乙,b@example.test,lead\n丙,c@example.test,sql\n",
    )
    assert job["status"] == "cancelled"
    assert calls["n"] >= 2
    assert client.get("/api/v1/contacts", headers=tenant.admin.auth).json()["items"] == []
    assert recorded(tenant) == (0, 0)
