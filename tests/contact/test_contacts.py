"""Contacts through the API: fields, identities, consent, visibility by data scope."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.auth.permissions import Role
from tests.factories import make_tenant


def test_create_normalises_and_records_identities(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    r = client.post(
        "/api/v1/contacts",
        json={
            "name": "王芳",
            "email": "Wang.Fang@Example.CN",
            "phone": "138-0013-8001",
            "city": "上海",
            "country": "cn",
            "timezone": "Asia/Shanghai",
            "identities": [{"kind": "wechat_unionid", "value": "U-wf"}],
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    contact = r.json()
    assert (contact["email"], contact["phone"], contact["country"]) == (
        "wang.fang@example.cn",
        "+8613800138001",
        "CN",
    )
    view = client.get(f"/api/v1/contacts/{contact['id']}", headers=h).json()
    assert sorted((i["kind"], i["value"]) for i in view["identities"]) == [
        ("email", "wang.fang@example.cn"),
        ("phone", "+8613800138001"),
        ("wechat_unionid", "U-wf"),
    ]


def test_a_taken_identity_is_409_and_nothing_is_written(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    first = client.post("/api/v1/contacts", json={"name": "A", "email": "a@x.cn"}, headers=h).json()
    r = client.post(
        "/api/v1/contacts", json={"name": "B", "email": "A@x.cn", "phone": "13800000002"}, headers=h
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "identity_taken")
    assert r.json()["error"]["details"] == {"contact_id": first["id"]}
    assert [c["name"] for c in client.get("/api/v1/contacts", headers=h).json()["items"]] == ["A"]
    other = client.post("/api/v1/contacts", json={"name": "C"}, headers=h).json()
    r = client.patch(f"/api/v1/contacts/{other['id']}", json={"email": "a@x.cn"}, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "identity_taken")
    r = client.post(
        f"/api/v1/contacts/{other['id']}/identities",
        json={"kind": "email", "value": "a@x.cn"},
        headers=h,
    )
    assert r.status_code == 409
    assert client.get(f"/api/v1/contacts/{other['id']}", headers=h).json()["identities"] == []


def test_invalid_fields_are_422(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    for body in (
        {"phone": "12345"},
        {"email": "nope"},
        {"country": "China"},
        {"timezone": "Mars/Base"},
        {"gender": "x"},
    ):
        r = client.post("/api/v1/contacts", json={"name": "X", **body}, headers=h)
        assert r.status_code == 422, body
    r = client.post("/api/v1/contacts", json={"name": "X", "owner_id": "12345"}, headers=h)
    assert r.status_code == 404
    assert client.get("/api/v1/contacts", headers=h).json()["items"] == []


def test_update_keeps_old_identities_and_clears_fields(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    c = client.post(
        "/api/v1/contacts", json={"name": "A", "email": "old@x.cn", "title": "CEO"}, headers=h
    ).json()
    r = client.patch(
        f"/api/v1/contacts/{c['id']}", json={"email": "new@x.cn", "title": None}, headers=h
    )
    assert (r.json()["email"], r.json()["title"]) == ("new@x.cn", None)
    values = sorted(
        i["value"]
        for i in client.get(f"/api/v1/contacts/{c['id']}", headers=h).json()["identities"]
    )
    assert values == ["new@x.cn", "old@x.cn"]
    assert (
        client.patch(f"/api/v1/contacts/{c['id']}", json={"name": None}, headers=h).status_code
        == 422
    )
    identity = client.get(f"/api/v1/contacts/{c['id']}", headers=h).json()["identities"][0]
    assert (
        client.delete(
            f"/api/v1/contacts/{c['id']}/identities/{identity['id']}", headers=h
        ).status_code
        == 204
    )
    assert len(client.get(f"/api/v1/contacts/{c['id']}", headers=h).json()["identities"]) == 1


def test_consent_per_channel(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    c = client.post("/api/v1/contacts", json={"name": "A"}, headers=h).json()
    r = client.put(
        f"/api/v1/contacts/{c['id']}/consent/email",
        json={"status": "opt_out", "source": "unsubscribe link"},
        headers=h,
    )
    assert r.status_code == 200
    client.put(f"/api/v1/contacts/{c['id']}/consent/sms", json={"status": "opt_in"}, headers=h)
    consent = client.get(f"/api/v1/contacts/{c['id']}", headers=h).json()["consent"]
    assert [(x["channel"], x["status"], x["source"]) for x in consent] == [
        ("email", "opt_out", "unsubscribe link"),
        ("sms", "opt_in", None),
    ]
    assert (
        client.put(
            f"/api/v1/contacts/{c['id']}/consent/fax", json={"status": "opt_in"}, headers=h
        ).status_code
        == 422
    )


def test_sales_see_their_own_contacts_team_scope_sees_the_pool(app: FastAPI) -> None:
    tenant = make_tenant(app)
    team = tenant.department("East")
    rep_a, rep_b = tenant.add(Role.sales, department_id=team), tenant.add(Role.sales)
    sdr = tenant.add(Role.sdr, department_id=team)
    client, h = TestClient(app), tenant.admin.auth
    mine = client.post(
        "/api/v1/contacts", json={"name": "A's", "owner_id": str(rep_a.user_id)}, headers=h
    ).json()
    theirs = client.post(
        "/api/v1/contacts", json={"name": "B's", "owner_id": str(rep_b.user_id)}, headers=h
    ).json()
    client.post("/api/v1/contacts", json={"name": "Pool"}, headers=h)

    def names(auth):
        return sorted(
            c["name"] for c in client.get("/api/v1/contacts", headers=auth).json()["items"]
        )

    assert names(rep_a.auth) == ["A's"]
    assert names(sdr.auth) == ["A's", "Pool"]
    assert names(h) == ["A's", "B's", "Pool"]
    assert client.get(f"/api/v1/contacts/{theirs['id']}", headers=rep_a.auth).status_code == 404
    assert (
        client.patch(
            f"/api/v1/contacts/{theirs['id']}", json={"title": "x"}, headers=rep_a.auth
        ).status_code
        == 404
    )
    assert (
        client.patch(
            f"/api/v1/contacts/{mine['id']}", json={"title": "VP"}, headers=rep_a.auth
        ).status_code
        == 200
    )


def test_list_search_sort_and_pages(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    for i, name in enumerate(["张伟", "Emma Smith", "李娜", "Zoe King"]):
        client.post(
            "/api/v1/contacts",
            json={"name": name, "phone": f"1390000000{i}", "stage": "lead" if i % 2 else "mql"},
            headers=h,
        )
    assert [
        c["name"] for c in client.get("/api/v1/contacts?q=emma", headers=h).json()["items"]
    ] == ["Emma Smith"]
    assert [
        c["name"] for c in client.get("/api/v1/contacts?q=13900000002", headers=h).json()["items"]
    ] == ["李娜"]
    assert sorted(
        c["name"] for c in client.get("/api/v1/contacts?stage=lead", headers=h).json()["items"]
    ) == ["Emma Smith", "Zoe King"]
    seen, cursor = [], None
    while True:
        body = client.get(
            "/api/v1/contacts?limit=3&sort=name" + (f"&cursor={cursor}" if cursor else ""),
            headers=h,
        ).json()
        seen += [c["name"] for c in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 4
    assert seen[:2] == ["Emma Smith", "Zoe King"]


def test_export_streams_the_filtered_list_as_csv(app: FastAPI) -> None:
    import csv
    import io

    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    client.post(
        "/api/v1/custom-fields",
        json={
            "object": "contact",
            "key": "tags",
            "label": "T",
            "type": "multi_select",
            "options": ["a", "b"],
        },
        headers=h,
    )
    for i in range(5):
        client.post(
            "/api/v1/contacts",
            json={
                "name": f"导出{i}",
                "stage": "lead" if i < 3 else "mql",
                "custom": {"tags": ["a", "b"]},
            },
            headers=h,
        )
    r = client.get("/api/v1/contacts/export.csv?stage=lead", headers=h)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert sorted(row["name"] for row in rows) == ["导出0", "导出1", "导出2"]
    assert {row["custom.tags"] for row in rows} == {"a;b"}
    r = client.get("/api/v1/contacts/export.csv?custom.nope=1", headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_field")
    rep = tenant.add(Role.sales)
    r = client.get("/api/v1/contacts/export.csv", headers=rep.auth)
    assert r.status_code == 200
    assert r.content.decode("utf-8-sig").strip().count("\n") == 0  # a rep owns none of them


def test_duplicate_suggestions(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    account = client.post("/api/v1/accounts", json={"name": "Initech"}, headers=h).json()
    a = client.post(
        "/api/v1/contacts", json={"name": "Peter Gibbons", "email": "peter@initech.com"}, headers=h
    ).json()
    b = client.post(
        "/api/v1/contacts", json={"name": "peter  gibbons", "phone": "13800000099"}, headers=h
    ).json()
    c = client.post("/api/v1/contacts", json={"name": "张伟", "city": "上海"}, headers=h).json()
    d = client.post("/api/v1/contacts", json={"name": "张伟", "city": "上海"}, headers=h).json()
    client.post("/api/v1/contacts", json={"name": "张伟", "city": "北京"}, headers=h)
    for contact in (a, b):
        client.put(f"/api/v1/accounts/{account['id']}/contacts/{contact['id']}", json={}, headers=h)
    pairs = client.get("/api/v1/duplicates", headers=h).json()["items"]
    assert [(p["a"]["id"], p["b"]["id"], p["reason"]) for p in pairs] == [
        (a["id"], b["id"], "same_name_same_account"),
        (c["id"], d["id"], "same_name_same_city"),
    ]
    assert (
        client.post(
            f"/api/v1/contacts/{a['id']}/merge", json={"other_id": b["id"]}, headers=h
        ).status_code
        == 200
    )
    assert len(client.get("/api/v1/duplicates", headers=h).json()["items"]) == 1


def test_large_exports_run_as_jobs_and_download(app: FastAPI) -> None:
    import io

    from openpyxl import load_workbook

    import guanxi.importer.tasks  # noqa: F401
    from guanxi.worker import jobs

    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    for i in range(3):
        client.post(
            "/api/v1/contacts",
            json={"name": f"表格{i}", "phone": f"1380000010{i}", "stage": "lead"},
            headers=h,
        )
    client.post("/api/v1/contacts", json={"name": "other", "stage": "mql"}, headers=h)
    r = client.post("/api/v1/exports", json={"format": "xlsx", "stage": "lead"}, headers=h)
    assert r.status_code == 201
    export = r.json()
    r = client.get(f"/api/v1/exports/{export['id']}/file", headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "export_not_ready")
    while jobs.run_one(app.state.sessionmaker, app.state.settings.data_dir):
        pass
    done = client.get(f"/api/v1/exports/{export['id']}", headers=h).json()
    assert (done["status"], done["rows"]) == ("done", 3)
    r = client.get(f"/api/v1/exports/{export['id']}/file", headers=h)
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("id", "name", "email", "phone")
    assert sorted(row[1] for row in rows[1:]) == ["表格0", "表格1", "表格2"]
    # an export is its owner's: a colleague cannot fetch it
    other = tenant.add(Role.marketer)
    assert client.get(f"/api/v1/exports/{export['id']}/file", headers=other.auth).status_code == 404
