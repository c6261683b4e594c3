"""Who may import, whose imports one sees, and what a hostile file cannot do."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi import db
from guanxi.auth.permissions import Role
from guanxi.importer import service
from guanxi.models import Job
from guanxi.worker import jobs
from tests.factories import make_tenant
from tests.importer.test_import import start, upload, work


def test_importing_needs_a_data_scope_of_all_and_imports_are_private(app: FastAPI) -> None:
    tenant = make_tenant(app)
    rep = tenant.add(Role.sales)
    client = TestClient(app)
    r = client.post(
        "/api/v1/imports/files",
        files={"file": ("a.csv", b"email\nx@y.io\n", "text/csv")},
        headers=rep.auth,
    )
    assert (r.status_code, r.json()["error"]["code"]) == (403, "data_scope_all_required")
    up = upload(client, tenant, b"email\nx@y.io\n")
    job = start(client, tenant, up["file_id"], {"email": "email"})
    assert client.get(f"/api/v1/imports/{job}", headers=rep.auth).status_code == 404
    assert client.post(f"/api/v1/imports/{job}/cancel", headers=rep.auth).status_code == 404
    assert client.get("/api/v1/imports", headers=rep.auth).json()["items"] == []
    assert len(client.get("/api/v1/imports", headers=tenant.admin.auth).json()["items"]) == 1


def test_long_cells_are_cut_to_their_columns_and_the_import_finishes(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    long = "城" * 300
    r = client.post(  # the stage the cut cell names (a stage must exist to be imported)
        "/api/v1/lifecycle/stages",
        json={"key": "s" * 32, "name": "S"},
        headers=tenant.admin.auth,
    )
    assert r.status_code == 201, r.text
    content = f"name,phone,city,stage,note\n{'名' * 300},13800000031,{long},{'s' * 100},{'x' * 200000}\n".encode()
    up = upload(client, tenant, content)
    job = start(
        client,
        tenant,
        up["file_id"],
        {"name": "name", "phone": "phone", "city": "city", "stage": "stage", "note": "ignore"},
    )
    work(app)
    assert (
        client.get(f"/api/v1/imports/{job}", headers=tenant.admin.auth).json()["status"] == "done"
    )
    contact = client.get("/api/v1/contacts", headers=tenant.admin.auth).json()["items"][0]
    assert (len(contact["name"]), len(contact["city"]), len(contact["stage"])) == (120, 80, 32)


def test_exported_text_cannot_become_a_spreadsheet_formula(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client = TestClient(app)
    client.post(
        "/api/v1/contacts",
        json={"name": '=HYPERLINK("http://evil")', "phone": "13800000032", "title": "@SUM(1)\x0b"},
        headers=tenant.admin.auth,
    )
    text = client.get("/api/v1/contacts/export.csv", headers=tenant.admin.auth).content.decode(
        "utf-8-sig"
    )
    assert "'=HYPERLINK" in text
    assert "'@SUM(1)" in text
    assert "\x0b" not in text
    assert "+8613800000032" in text  # a validated phone keeps its plus


def test_merge_rows_that_name_two_people_are_problems_not_a_failed_import(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    client.post(
        "/api/v1/contacts",
        json={
            "name": "A",
            "phone": "13800000041",
            "identities": [{"kind": "wechat_unionid", "value": "UA"}],
        },
        headers=h,
    )
    client.post(
        "/api/v1/contacts",
        json={
            "name": "B",
            "email": "b@x.cn",
            "identities": [{"kind": "wechat_unionid", "value": "UB"}],
        },
        headers=h,
    )
    c = client.post("/api/v1/contacts", json={"name": "C", "email": "c@x.cn"}, headers=h).json()
    d = client.post(
        "/api/v1/contacts", json={"name": "D", "phone": "13800000042"}, headers=h
    ).json()
    content = b"phone,email\n13800000041,b@x.cn\n13800000042,c@x.cn\n"
    up = upload(client, tenant, content)
    job = start(client, tenant, up["file_id"], {"phone": "phone", "email": "email"}, dedup="merge")
    work(app)
    status = client.get(f"/api/v1/imports/{job}", headers=h).json()
    assert (status["status"], status["counts"]["merged"]) == ("done", 1)
    problems = client.get(f"/api/v1/imports/{job}/problems", headers=h).json()["items"]
    assert [(p["line"], p["reason"]) for p in problems] == [(2, "identity_conflict")]
    merged = {c["id"], d["id"]}
    survivors = [
        x["id"]
        for x in client.get("/api/v1/contacts?limit=200", headers=h).json()["items"]
        if x["id"] in merged
    ]
    assert len(survivors) == 1


def test_an_import_updating_others_contacts_records_collisions_and_tells_each_owner_once(
    app: FastAPI,
) -> None:
    tenant = make_tenant(app)
    sales = tenant.add(Role.sales)
    client, h = TestClient(app), tenant.admin.auth
    for phone in ("13800000051", "13800000052"):
        r = client.post(
            "/api/v1/contacts",
            json={"name": f"客户{phone[-1]}", "phone": phone, "owner_id": str(sales.user_id)},
            headers=h,
        )
        assert r.status_code == 201, r.text
    client.post("/api/v1/contacts", json={"name": "自己的", "phone": "13800000053"}, headers=h)
    content = b"phone,title\n13800000051,CEO\n13800000052,CTO\n13800000053,CFO\n"
    up = upload(client, tenant, content)
    job = start(client, tenant, up["file_id"], {"phone": "phone", "title": "title"})
    work(app)
    assert client.get(f"/api/v1/imports/{job}", headers=h).json()["counts"]["updated"] == 3
    collisions = client.get("/api/v1/collisions", headers=sales.auth).json()["items"]
    assert sorted((c["action"], c["owner_id"]) for c in collisions) == [
        ("import", str(sales.user_id)),
        ("import", str(sales.user_id)),
    ]
    notes = client.get("/api/v1/notifications", headers=sales.auth).json()["items"]
    assert [(n["kind"], n["payload"]["action"]) for n in notes] == [("collision", "import")]


def test_account_custom_fields_are_imported_into_new_accounts_and_exported(
    app: FastAPI,
) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    for field in (
        {"object": "account", "key": "headcount", "label": "员工数", "type": "number"},
        {
            "object": "account",
            "key": "segment",
            "label": "客户分层",
            "type": "select",
            "options": ["KA", "SMB"],
            "required": True,
        },
    ):
        assert client.post("/api/v1/custom-fields", json=field, headers=h).status_code == 201
    client.post(
        "/api/v1/accounts", json={"name": "老朋友", "custom": {"segment": "SMB"}}, headers=h
    )
    content = (
        "手机,公司,员工数,客户分层\n"
        "13800000061,华科科技,1200,KA\n"
        "13800000062,新公司,,\n"  # a new account without its required segment
        "13800000063,老朋友,99,KA\n"  # an existing account keeps its own values
        "13800000064,坏数据,many,KA\n"
    )
    up = upload(client, tenant, content.encode())
    assert up["suggested_mapping"] == {
        "手机": "phone",
        "公司": "account.name",
        "员工数": "account.custom.headcount",
        "客户分层": "account.custom.segment",
    }
    job = start(client, tenant, up["file_id"], up["suggested_mapping"])
    work(app)
    problems = client.get(f"/api/v1/imports/{job}/problems", headers=h).json()["items"]
    assert [(p["line"], p["reason"]) for p in problems] == [
        (3, "missing_required"),
        (5, "invalid_value"),
    ]
    found = {
        a["name"]: a["custom"] for a in client.get("/api/v1/accounts", headers=h).json()["items"]
    }
    assert found == {"华科科技": {"headcount": 1200, "segment": "KA"}, "老朋友": {"segment": "SMB"}}
    r = client.get("/api/v1/accounts/export.csv?q=华科", headers=h)
    assert r.status_code == 200
    lines = r.content.decode("utf-8-sig").splitlines()
    assert lines[0].endswith("custom.headcount,custom.segment")
    assert len(lines) == 2
    assert ",华科科技," in lines[1]
    assert lines[1].endswith(",1200,KA")


def test_one_identity_named_by_two_columns_is_one_identity(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    up = upload(client, tenant, b"email,email2\na@x.cn,A@X.CN\n")
    job = start(client, tenant, up["file_id"], {"email": "email", "email2": "identity.email"})
    work(app)
    status = client.get(f"/api/v1/imports/{job}", headers=h).json()
    assert (status["status"], status["counts"]["created"]) == ("done", 1)


def test_collisions_only_for_changes_once_per_contact_and_gone_with_a_cancel(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(app)
    sales = tenant.add(Role.sales)
    client, h = TestClient(app), tenant.admin.auth
    client.post(
        "/api/v1/contacts",
        json={"name": "客户", "phone": "13800000071", "owner_id": str(sales.user_id)},
        headers=h,
    )
    monkeypatch.setattr(service, "BATCH", 1)
    content = b"phone,title,city\n13800000071,CEO,\n13800000071,,SH\n13800000071,CEO,SH\n"
    up = upload(client, tenant, content)
    mapping = {"phone": "phone", "title": "title", "city": "city"}
    start(client, tenant, up["file_id"], mapping)
    work(app)
    assert len(client.get("/api/v1/collisions", headers=sales.auth).json()["items"]) == 1
    again = start(client, tenant, up["file_id"], mapping)  # nothing left to change
    work(app)
    assert client.get(f"/api/v1/imports/{again}", headers=h).json()["status"] == "done"
    assert len(client.get("/api/v1/collisions", headers=sales.auth).json()["items"]) == 1
    # a cancelled import leaves no collision behind (it changed nothing in the end)
    third = upload(client, tenant, b"phone,province\n13800000071,Shanghai\n13800000072,\n")
    monkeypatch.setattr(service, "BATCH", 5000)
    original = db.analyze

    def analyze(*args: Any) -> None:
        with tenant.session() as s:
            row = s.get(Job, (tenant.workspace_id, int(cancelled)))
            if row is not None and row.status == "running":
                jobs.request_cancel(s, tenant.workspace_id, int(cancelled))
        original(*args)

    cancelled = start(client, tenant, third["file_id"], {"phone": "phone", "province": "province"})
    monkeypatch.setattr(service, "analyze", analyze)
    work(app)
    assert client.get(f"/api/v1/imports/{cancelled}", headers=h).json()["status"] == "cancelled"
    assert len(client.get("/api/v1/collisions", headers=sales.auth).json()["items"]) == 1
