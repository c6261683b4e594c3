"""Lifecycle through the API: configuring stages, moving contacts by hand (backward too), the
history, the funnel, and every refusal writing nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

import guanxi.lifecycle.tasks  # noqa: F401  (registers the re-apply job)
from guanxi.auth.permissions import Role
from guanxi.models import Contact, Event, StageChange
from guanxi.worker import jobs
from tests.factories import Tenant, login, make_tenant


def contact(client: TestClient, tenant: Tenant, **fields: Any) -> str:
    r = client.post("/api/v1/contacts", json={"name": "王芳", **fields}, headers=tenant.admin.auth)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def moved(client: TestClient, tenant: Tenant, contact_id: str, stage: str, **extra: Any) -> Any:
    r = client.post(
        f"/api/v1/contacts/{contact_id}/stage",
        json={"stage": stage, **extra},
        headers=tenant.admin.auth,
    )
    assert r.status_code == 200, r.text
    return r.json()


def written(tenant: Tenant, contact_id: str) -> tuple[int, int, str | None]:
    """Stage changes, stage_changed events, and the stage, of one contact."""
    with tenant.session() as s:
        ws, cid = tenant.workspace_id, int(contact_id)
        changes = s.scalar(
            select(func.count())
            .select_from(StageChange)
            .where(StageChange.workspace_id == ws, StageChange.contact_id == cid)
        )
        events = s.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.workspace_id == ws, Event.contact_id == cid, Event.type == "stage_changed")
        )
        stage = s.get(Contact, (ws, cid)).stage  # type: ignore[union-attr]
    return changes, events, stage


def keys(client: TestClient, tenant: Tenant) -> list[str]:
    r = client.get("/api/v1/lifecycle/stages", headers=tenant.admin.auth)
    assert r.status_code == 200, r.text
    return [s["key"] for s in r.json()["items"]]


def test_stages_list_in_the_callers_language(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    r = client.get(
        "/api/v1/lifecycle/stages", headers={**tenant.admin.auth, "Accept-Language": "zh-CN"}
    )
    items = r.json()["items"]
    assert [(s["key"], s["label"], s["position"]) for s in items[:3]] == [
        ("subscriber", "订阅者", 0),
        ("lead", "线索", 1),
        ("mql", "市场认可线索 (MQL)", 2),
    ]
    assert items[-1]["kind"] == "exit"
    assert items[-1]["label"] == "已流失"


def test_configuring_stages(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    h = tenant.admin.auth
    r = client.post(
        "/api/v1/lifecycle/stages",
        json={"key": "nurture", "name": "培育中", "before": "mql"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    nurture = r.json()
    assert keys(client, tenant)[:4] == ["subscriber", "lead", "nurture", "mql"]
    assert nurture["position"] == 2
    assert nurture["label"] == "培育中"

    r = client.post("/api/v1/lifecycle/stages", json={"key": "lead", "name": "x"}, headers=h)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "already_exists"
    rule = {"kind": "field", "field": "custom.nope", "op": "is_set"}
    r = client.post(
        "/api/v1/lifecycle/stages",
        json={"key": "vip", "name": "VIP", "entry_rule": rule},
        headers=h,
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_condition"

    r = client.patch(
        f"/api/v1/lifecycle/stages/{nurture['id']}",
        json={"entry_rule": {"kind": "score", "model": "123", "value": 50}},
        headers=h,
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_condition"
    rule = {"kind": "field", "field": "title", "op": "is_set"}
    r = client.patch(
        f"/api/v1/lifecycle/stages/{nurture['id']}",
        json={"name": "Nurture", "entry_rule": rule},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Nurture"
    assert r.json()["entry_rule"] == {**rule, "value": None}
    r = client.patch(
        f"/api/v1/lifecycle/stages/{nurture['id']}", json={"entry_rule": None}, headers=h
    )
    assert r.json()["entry_rule"] is None

    order = keys(client, tenant)
    order[0], order[1] = order[1], order[0]
    r = client.put("/api/v1/lifecycle/order", json={"keys": order}, headers=h)
    assert r.status_code == 200
    assert [s["key"] for s in r.json()["items"]] == order
    r = client.put("/api/v1/lifecycle/order", json={"keys": order[:-1]}, headers=h)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_stage_order"
    assert keys(client, tenant) == order

    r = client.delete(f"/api/v1/lifecycle/stages/{nurture['id']}", headers=h)
    assert r.status_code == 204
    assert "nurture" not in keys(client, tenant)


def test_a_stage_with_contacts_cannot_be_deleted(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    h = tenant.admin.auth
    stages = client.get("/api/v1/lifecycle/stages", headers=h).json()["items"]
    lead = next(s for s in stages if s["key"] == "lead")
    moved(client, tenant, contact(client, tenant), "lead")
    r = client.delete(f"/api/v1/lifecycle/stages/{lead['id']}", headers=h)
    assert r.status_code == 409
    assert r.json()["error"] | {"message": ""} == {
        "code": "stage_in_use",
        "message": "",
        "details": {"contacts": 1},
    }
    assert "lead" in keys(client, tenant)


def test_the_funnel_keeps_one_stage(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    h = tenant.admin.auth
    stages = client.get("/api/v1/lifecycle/stages", headers=h).json()["items"]
    funnel = [s for s in stages if s["kind"] == "funnel"]
    for s in funnel[:-1]:
        assert client.delete(f"/api/v1/lifecycle/stages/{s['id']}", headers=h).status_code == 204
    r = client.delete(f"/api/v1/lifecycle/stages/{funnel[-1]['id']}", headers=h)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "last_funnel_stage"
    assert keys(client, tenant) == ["advocate", "churned"]


def test_moves_forward_backward_and_in_place(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    cid = contact(client, tenant)
    first = moved(client, tenant, cid, "mql", note="下载白皮书")
    assert first["stage"] == "mql"
    assert first["change"] | {"id": "", "changed_at": ""} == {
        "id": "",
        "contact_id": cid,
        "from_stage": None,
        "to_stage": "mql",
        "cause": "api",
        "actor_id": str(tenant.admin.user_id),
        "note": "下载白皮书",
        "backward": False,
        "changed_at": "",
    }
    back = moved(client, tenant, cid, "lead", note="预算冻结，回到培育")
    assert (back["change"]["from_stage"], back["change"]["backward"]) == ("mql", True)
    same = moved(client, tenant, cid, "lead")
    assert same == {"stage": "lead", "change": None}
    moved(client, tenant, cid, "churned")
    win_back = moved(client, tenant, cid, "customer")
    assert win_back["change"]["backward"] is True
    assert written(tenant, cid) == (4, 4, "customer")

    r = client.get(f"/api/v1/contacts/{cid}/stages?limit=3", headers=tenant.admin.auth)
    page = r.json()
    assert [c["to_stage"] for c in page["items"]] == ["customer", "churned", "lead"]
    rest = client.get(
        f"/api/v1/contacts/{cid}/stages?limit=3&cursor={page['next_cursor']}",
        headers=tenant.admin.auth,
    ).json()
    assert [c["to_stage"] for c in rest["items"]] == ["mql"]
    assert rest["next_cursor"] is None

    timeline = client.get(
        f"/api/v1/contacts/{cid}/timeline?type=stage_changed", headers=tenant.admin.auth
    ).json()["items"]
    assert timeline[0]["properties"] == {
        "from": "churned",
        "to": "customer",
        "cause": "api",
        "backward": True,
    }


def test_refused_moves_write_nothing(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    cid = contact(client, tenant)
    moved(client, tenant, cid, "lead")
    r = client.post(
        f"/api/v1/contacts/{cid}/stage", json={"stage": "prospect"}, headers=tenant.admin.auth
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "unknown_stage"

    viewer = tenant.add(Role.viewer)
    login_client = TestClient(app)
    csrf = login(login_client, viewer.email)
    r = login_client.post(
        f"/api/v1/contacts/{cid}/stage", json={"stage": "mql"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"

    rep = tenant.add(Role.sales)  # own data scope: the admin's contact is not theirs
    r = client.post(f"/api/v1/contacts/{cid}/stage", json={"stage": "mql"}, headers=rep.auth)
    assert r.status_code == 404

    narrow = tenant.key_for(tenant.admin, ["contacts:read"])
    r = client.post(
        f"/api/v1/contacts/{cid}/stage",
        json={"stage": "mql"},
        headers={"Authorization": f"Bearer {narrow}"},
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "insufficient_scope"

    other = make_tenant(app)
    r = client.post(
        f"/api/v1/contacts/{cid}/stage", json={"stage": "mql"}, headers=other.admin.auth
    )
    assert r.status_code == 404
    r = client.get(f"/api/v1/contacts/{cid}/stages", headers=other.admin.auth)
    assert r.status_code == 404
    assert written(tenant, cid) == (1, 1, "lead")


def test_a_sales_rep_moves_their_own_contact(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    rep = tenant.add(Role.sales)
    cid = contact(client, tenant, owner_id=str(rep.user_id))
    r = client.post(f"/api/v1/contacts/{cid}/stage", json={"stage": "sal"}, headers=rep.auth)
    assert r.status_code == 200
    assert r.json()["change"]["actor_id"] == str(rep.user_id)


def test_contact_writes_of_stage_go_through_the_lifecycle(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    h = tenant.admin.auth
    cid = contact(client, tenant, stage="lead")
    assert written(tenant, cid) == (1, 1, "lead")
    r = client.patch(f"/api/v1/contacts/{cid}", json={"stage": "sql"}, headers=h)
    assert r.status_code == 200
    assert r.json()["stage"] == "sql"
    history = client.get(f"/api/v1/contacts/{cid}/stages", headers=h).json()["items"]
    assert [(c["from_stage"], c["to_stage"], c["cause"]) for c in history] == [
        ("lead", "sql", "api"),
        (None, "lead", "api"),
    ]
    r = client.patch(f"/api/v1/contacts/{cid}", json={"stage": "nope", "title": "CTO"}, headers=h)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "unknown_stage"
    r = client.patch(f"/api/v1/contacts/{cid}", json={"stage": None}, headers=h)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "stage_required"
    r = client.post("/api/v1/contacts", json={"name": "X", "stage": "nope"}, headers=h)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "unknown_stage"
    assert written(tenant, cid) == (2, 2, "sql")
    with tenant.session() as s:
        assert s.get(Contact, (tenant.workspace_id, int(cid))).title is None  # type: ignore[union-attr]
        named_x = s.scalar(
            select(func.count())
            .select_from(Contact)
            .where(Contact.workspace_id == tenant.workspace_id, Contact.name == "X")
        )
    assert named_x == 0

    r = client.post(
        "/api/v1/identify",
        json={
            "identities": [{"kind": "email", "value": "li@example.test"}],
            "attributes": {"name": "李雷", "stage": "subscriber"},
        },
        headers=h,
    )
    assert r.status_code == 200
    assert r.json()["contact"]["stage"] == "subscriber"
    again = client.post(
        "/api/v1/identify",
        json={
            "identities": [{"kind": "email", "value": "li@example.test"}],
            "attributes": {"stage": "lead"},
        },
        headers=h,
    )
    assert again.json()["contact"]["stage"] == "subscriber"  # fills gaps only
    assert written(tenant, again.json()["contact"]["id"])[:2] == (1, 1)


def test_funnel_counts_and_conversion(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    a, b, c = (contact(client, tenant) for _ in range(3))
    for cid in (a, b, c):
        moved(client, tenant, cid, "lead")
    moved(client, tenant, a, "mql")
    moved(client, tenant, b, "sql")  # skips mql: converted from lead all the same
    moved(client, tenant, b, "mql")  # recycled: it entered mql too
    rep = tenant.add(Role.sales)
    mine = contact(client, tenant, owner_id=str(rep.user_id))
    r = client.post(f"/api/v1/contacts/{mine}/stage", json={"stage": "lead"}, headers=rep.auth)
    assert r.status_code == 200

    r = client.get("/api/v1/lifecycle/funnel", headers=tenant.admin.auth)
    stages = {s["key"]: s for s in r.json()["stages"]}
    assert {k: (v["current"], v["entered"], v["advanced"]) for k, v in stages.items()} == {
        "subscriber": (0, 0, 0),
        "lead": (2, 4, 2),
        "mql": (2, 2, 0),
        "sal": (0, 0, 0),
        "sql": (0, 1, 0),
        "opportunity": (0, 0, 0),
        "customer": (0, 0, 0),
        "advocate": (0, 0, None),
        "churned": (0, 0, None),
    }
    assert stages["lead"]["conversion"] == 0.5
    assert stages["sal"]["conversion"] is None

    r = client.get("/api/v1/lifecycle/funnel", headers=rep.auth)  # their own contact only
    assert {s["key"]: s["entered"] for s in r.json()["stages"]}["lead"] == 1

    past = (datetime.now(UTC) - timedelta(days=60)).isoformat()
    older = (datetime.now(UTC) - timedelta(days=59)).isoformat()
    r = client.get(
        "/api/v1/lifecycle/funnel",
        params={"since": past, "until": older},
        headers=tenant.admin.auth,
    )
    assert {s["key"]: s["entered"] for s in r.json()["stages"]}["lead"] == 0
    r = client.get(
        "/api/v1/lifecycle/funnel",
        params={"since": older, "until": past},
        headers=tenant.admin.auth,
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_period"


def test_reapplying_entry_rules_to_every_contact(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    h = tenant.admin.auth
    titled = [contact(client, tenant, title="CTO") for _ in range(3)]
    plain = contact(client, tenant)
    ahead = contact(client, tenant, title="CEO", stage="customer")
    stages = {
        s["key"]: s for s in client.get("/api/v1/lifecycle/stages", headers=h).json()["items"]
    }
    rule = {"kind": "field", "field": "title", "op": "is_set"}
    r = client.patch(
        f"/api/v1/lifecycle/stages/{stages['lead']['id']}", json={"entry_rule": rule}, headers=h
    )
    assert r.status_code == 200
    r = client.post("/api/v1/lifecycle/reapply", headers=h)
    assert r.status_code == 202
    assert r.json()["status"] == "pending"
    job_id = r.json()["id"]
    while jobs.run_one(app.state.sessionmaker):
        pass
    r = client.get(f"/api/v1/lifecycle/reapply/{job_id}", headers=h)
    assert (r.json()["status"], r.json()["moved"]) == ("done", 3)
    for cid in titled:
        history = client.get(f"/api/v1/contacts/{cid}/stages", headers=h).json()["items"]
        assert [(c["to_stage"], c["cause"], c["actor_id"]) for c in history] == [
            ("lead", "rule", None)
        ]
    assert written(tenant, plain) == (0, 0, None)
    assert written(tenant, ahead)[2] == "customer"
    assert (
        client.get(
            f"/api/v1/lifecycle/reapply/{job_id}", headers=make_tenant(app).admin.auth
        ).status_code
        == 404
    )
