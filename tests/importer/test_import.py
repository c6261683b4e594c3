"""Imports end to end: upload, mapping, the job in the worker, problems, cancel, resume."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import func, select

import guanxi.importer.tasks  # noqa: F401  (registers the import job)
from guanxi.importer import service
from guanxi.models import Contact, Job
from guanxi.worker import jobs
from tests.factories import Tenant, make_tenant

HEADER = "姓名,手机,邮箱,公司,入职日期\n"


def upload(
    client: TestClient, tenant: Tenant, content: bytes, name: str = "contacts.csv"
) -> dict[str, Any]:
    r = client.post(
        "/api/v1/imports/files",
        files={"file": (name, content, "text/csv")},
        headers=tenant.admin.auth,
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def start(
    client: TestClient, tenant: Tenant, file_id: str, mapping: dict[str, str], **options: Any
) -> str:
    r = client.post(
        "/api/v1/imports",
        json={"file_id": file_id, "mapping": mapping, **options},
        headers=tenant.admin.auth,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def work(app: FastAPI) -> None:
    while jobs.run_one(app.state.sessionmaker):
        pass


def contacts_in(tenant: Tenant) -> int:
    with tenant.session() as s:
        return int(
            s.scalar(select(func.count()).where(Contact.workspace_id == tenant.workspace_id)) or 0
        )


@pytest.fixture
def tenant(app: FastAPI) -> Tenant:
    t = make_tenant(app)
    client = TestClient(app)
    client.post(
        "/api/v1/custom-fields",
        json={"object": "contact", "key": "joined", "label": "入职日期", "type": "date"},
        headers=t.admin.auth,
    )
    client.post("/api/v1/accounts", json={"name": "上海华科科技有限公司"}, headers=t.admin.auth)
    return t


def test_a_large_file_with_bad_rows(app: FastAPI, tenant: Tenant) -> None:
    """100,000 rows; bad ones at known lines: every good row lands, every bad row is reported
    with its line and reason; a GBK-encoded name inside the UTF-8 file is read right."""
    lines = [HEADER.encode()]
    expected: dict[int, str] = {}
    good = 0
    for i in range(100_000):
        line = i + 2
        name, phone, email, company, date = (
            f"客户{i}",
            f"139{i:08d}",
            f"c{i}@example.cn",
            "上海华科科技",
            "2024-05-01",
        )
        if i % 1000 == 1:
            phone, expected[line] = "12345", "invalid_phone"
        elif i % 1000 == 2:
            company, expected[line] = "不存在的公司", "unknown_account"
        elif i % 1000 == 3:
            date, expected[line] = "2024-13-45", "invalid_value"
        elif i % 1000 == 4:
            phone, email, expected[line] = f"139{i - 4:08d}", f"c{i - 4}@example.cn", "duplicate"
        else:
            good += 1
        row = f"{name},{phone},{email},{company},{date}\n".encode()
        if i == 500:
            row = "王小明,13700000500,wang@example.cn,上海华科科技,2024-05-01\n".encode("gbk")
        lines.append(row)
    client = TestClient(app)
    up = upload(client, tenant, b"".join(lines))
    assert up["encoding"] == "utf-8"
    mapping = {
        "姓名": "name",
        "手机": "phone",
        "邮箱": "email",
        "公司": "account.name",
        "入职日期": "custom.joined",
    }
    assert up["suggested_mapping"] == mapping
    job = start(client, tenant, up["file_id"], mapping, dedup="skip", accounts="link")
    work(app)
    status = client.get(f"/api/v1/imports/{job}", headers=tenant.admin.auth).json()
    assert status["status"] == "done", status
    assert status["counts"]["created"] == good
    assert status["counts"]["rows"] == 100_000
    assert contacts_in(tenant) == good
    reported: dict[int, str] = {}
    after = 0
    while True:
        page = client.get(
            f"/api/v1/imports/{job}/problems?limit=1000&after_line={after}",
            headers=tenant.admin.auth,
        ).json()
        reported |= {p["line"]: p["reason"] for p in page["items"]}
        if not page["next_cursor"]:
            break
        after = int(page["next_cursor"])
    assert reported == expected
    wang = client.get("/api/v1/contacts?q=13700000500", headers=tenant.admin.auth).json()["items"]
    assert [c["name"] for c in wang] == ["王小明"]
    report = client.get(f"/api/v1/imports/{job}/problems.csv", headers=tenant.admin.auth)
    assert report.headers["content-type"].startswith("text/csv")
    assert "3,手机,12345,invalid_phone" in report.text


def test_updates_fill_gaps_and_cancel_restores_everything(
    app: FastAPI, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, h = TestClient(app), tenant.admin.auth
    known = client.post(
        "/api/v1/contacts", json={"name": "老客户", "phone": "13800000001"}, headers=h
    ).json()
    monkeypatch.setattr(service, "BATCH", 50)
    rows = [HEADER] + [f"新{i},1390000{i:04d},n{i}@x.cn,新公司{i % 3},\n" for i in range(200)]
    rows.insert(60, "老客户,13800000001,old@x.cn,新公司0,2020-01-01\n")
    up = upload(client, tenant, "".join(rows).encode())
    mapping = {
        "姓名": "name",
        "手机": "phone",
        "邮箱": "email",
        "公司": "account.name",
        "入职日期": "custom.joined",
    }
    job = start(client, tenant, up["file_id"], mapping)
    # cancel while the second batch is being planned (the first is written by then)
    original, calls = service.plan, {"n": 0}

    def plan(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            with tenant.session() as s:
                jobs.request_cancel(s, tenant.workspace_id, int(job))
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "plan", plan)
    work(app)
    status = client.get(f"/api/v1/imports/{job}", headers=h).json()
    assert status["status"] == "cancelled"
    assert 0 < status["line"] < 202
    assert contacts_in(tenant) == 1
    after = client.get(f"/api/v1/contacts/{known['id']}", headers=h).json()
    assert (after["contact"]["email"], after["contact"]["custom"]) == (None, {})
    assert [i["kind"] for i in after["identities"]] == ["phone"]
    assert [a["name"] for a in client.get("/api/v1/accounts", headers=h).json()["items"]] == [
        "上海华科科技有限公司"
    ]
    assert client.post(f"/api/v1/imports/{job}/cancel", headers=h).status_code == 409


def test_a_crashed_worker_is_resumed_from_the_checkpoint(
    app: FastAPI, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, h = TestClient(app), tenant.admin.auth
    monkeypatch.setattr(service, "BATCH", 40)
    up = upload(
        client,
        tenant,
        ("姓名,手机\n" + "".join(f"人{i},1370000{i:04d}\n" for i in range(150))).encode(),
    )
    job = start(client, tenant, up["file_id"], {"姓名": "name", "手机": "phone"})
    original, calls = service.plan, {"n": 0}

    def dies_on_third(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("the worker was killed")
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "plan", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        jobs.run_one(app.state.sessionmaker)
    assert contacts_in(tenant) == 80  # two batches committed with their checkpoint
    monkeypatch.setattr(service, "plan", original)
    with tenant.session() as s:  # the dead worker's lease runs out
        row = s.get(Job, (tenant.workspace_id, int(job)))
        assert row is not None
        assert row.status == "running"
        row.lease_until = row.started_at
    work(app)
    status = client.get(f"/api/v1/imports/{job}", headers=h).json()
    assert (status["status"], status["counts"]["created"]) == ("done", 150)
    assert contacts_in(tenant) == 150


def test_dry_run_writes_nothing(app: FastAPI, tenant: Tenant) -> None:
    client, h = TestClient(app), tenant.admin.auth
    up = upload(
        client, tenant, (HEADER + "甲,13600000001,a@x.cn,,\n乙,bad,b@x.cn,,\n").encode("gb18030")
    )
    assert up["encoding"] == "gb18030"
    job = start(client, tenant, up["file_id"], up["suggested_mapping"], dry_run=True)
    work(app)
    status = client.get(f"/api/v1/imports/{job}", headers=h).json()
    assert (status["status"], status["counts"]["created"], status["counts"]["problems"]) == (
        "done",
        1,
        1,
    )
    assert [s["name"] for s in status["sample"]] == ["甲"]
    assert contacts_in(tenant) == 0


def test_xlsx_and_bad_uploads(app: FastAPI, tenant: Tenant) -> None:
    client, h = TestClient(app), tenant.admin.auth
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Name", "Mobile", "Email"])
    sheet.append(["Emma Smith", 13500000001, "emma@x.io"])
    buf = io.BytesIO()
    book.save(buf)
    up = upload(client, tenant, buf.getvalue(), "people.xlsx")
    assert (up["format"], up["suggested_mapping"]) == (
        "xlsx",
        {"Name": "name", "Mobile": "phone", "Email": "email"},
    )
    start(client, tenant, up["file_id"], up["suggested_mapping"])
    work(app)
    assert [c["phone"] for c in client.get("/api/v1/contacts", headers=h).json()["items"]] == [
        "+8613500000001"
    ]
    r = client.post("/api/v1/imports/files", files={"file": ("x.csv", b"", "text/csv")}, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "unreadable_file")
    up = upload(client, tenant, b"a,b\n1,2\n")
    r = client.post(
        "/api/v1/imports", json={"file_id": up["file_id"], "mapping": {"a": "password"}}, headers=h
    )
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_mapping")
    r = client.post("/api/v1/imports", json={"file_id": "123", "mapping": {}}, headers=h)
    assert r.status_code == 404


def test_identities_shared_within_a_batch_are_matched_not_duplicated(
    app: FastAPI, tenant: Tenant
) -> None:
    """A row gives an existing contact a new email; a later row with only that email updates
    the same contact; a row whose identities point at two contacts, or a second unionid for one
    person, is reported — and the import finishes."""
    client, h = TestClient(app), tenant.admin.auth
    a = client.post(
        "/api/v1/contacts", json={"name": "A", "phone": "13800000001"}, headers=h
    ).json()
    client.post("/api/v1/contacts", json={"name": "B", "phone": "13800000002"}, headers=h)
    content = "name,phone,email,unionid\nA,13800000001,e@x.cn,\nA2,,e@x.cn,\nB,13800000002,e@x.cn,\nN,13900000001,,U1\nN,13900000001,,U2\n"
    up = upload(client, tenant, content.encode())
    job = start(
        client,
        tenant,
        up["file_id"],
        {"name": "name", "phone": "phone", "email": "email", "unionid": "identity.wechat_unionid"},
    )
    work(app)
    status = client.get(f"/api/v1/imports/{job}", headers=h).json()
    assert status["status"] == "done"
    assert (status["counts"]["created"], status["counts"]["updated"]) == (1, 2)
    problems = client.get(f"/api/v1/imports/{job}/problems", headers=h).json()["items"]
    assert [(p["line"], p["reason"]) for p in problems] == [
        (4, "matches_several"),
        (6, "identity_conflict"),
    ]
    emails = [
        i["value"]
        for i in client.get(f"/api/v1/contacts/{a['id']}", headers=h).json()["identities"]
        if i["kind"] == "email"
    ]
    assert emails == ["e@x.cn"]


def test_rows_matching_the_batch_still_being_written_update_it(
    app: FastAPI, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches are planned while the previous one is written: a row that matches a contact
    created or updated in the batch in flight, or by an identity that batch adds, updates that
    contact — no duplicate contact, no duplicate identity, no field written back to empty."""
    client, h = TestClient(app), tenant.admin.auth
    known = client.post(
        "/api/v1/contacts", json={"name": "K", "phone": "13800000009"}, headers=h
    ).json()
    monkeypatch.setattr(service, "BATCH", 2)
    content = (
        "name,phone,email,title,city\n"
        "P,13900000001,,,\n"  # batch 1: creates P
        "K,13800000009,,CEO,\n"  # batch 1: updates K
        "P,13900000001,p@x.cn,,\n"  # batch 2: P (in flight) gets an email
        "K,13800000009,,,上海\n"  # batch 2: K (updated in flight) gets a city
        "P,,p@x.cn,CTO,\n"  # batch 3: P found by the email batch 2 adds
        "Q,13900000002,,,\n"
    )
    up = upload(client, tenant, content.encode())
    job = start(
        client,
        tenant,
        up["file_id"],
        {"name": "name", "phone": "phone", "email": "email", "title": "title", "city": "city"},
    )
    work(app)
    status = client.get(f"/api/v1/imports/{job}", headers=h).json()
    assert status["status"] == "done"
    assert (status["counts"]["created"], status["counts"]["updated"]) == (2, 4)
    assert status["counts"]["problems"] == 0
    assert contacts_in(tenant) == 3
    people = {c["name"]: c for c in client.get("/api/v1/contacts", headers=h).json()["items"]}
    assert (people["P"]["email"], people["P"]["title"]) == ("p@x.cn", "CTO")
    view = client.get(f"/api/v1/contacts/{people['P']['id']}", headers=h).json()
    assert sorted((i["kind"], i["value"]) for i in view["identities"]) == [
        ("email", "p@x.cn"),
        ("phone", "+8613900000001"),
    ]
    k = client.get(f"/api/v1/contacts/{known['id']}", headers=h).json()["contact"]
    assert (k["title"], k["city"]) == ("CEO", "上海")


def test_a_contact_created_meanwhile_through_the_api_is_matched_not_duplicated(
    app: FastAPI, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between a batch's plan and its write, someone creates a contact with a phone the batch
    was about to create: the write meets the unique key, the batch is planned again and updates
    that contact instead — the import finishes, nothing is duplicated."""
    client, h = TestClient(app), tenant.admin.auth
    monkeypatch.setattr(service, "BATCH", 2)
    content = "姓名,手机\n导入甲,13500000001\n导入乙,13500000002\n导入丙,13500000003\n"
    up = upload(client, tenant, content.encode())
    job = start(client, tenant, up["file_id"], {"姓名": "name", "手机": "phone"})
    original, calls = service.write, {"n": 0}

    def write(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:  # a sales rep adds the first person by hand just now
            r = TestClient(app).post(
                "/api/v1/contacts", json={"name": "手工", "phone": "13500000001"}, headers=h
            )
            assert r.status_code == 201
        original(*args, **kwargs)

    monkeypatch.setattr(service, "write", write)
    work(app)
    status = client.get(f"/api/v1/imports/{job}", headers=h).json()
    assert status["status"] == "done", status
    assert (status["counts"]["created"], status["counts"]["updated"]) == (2, 1)
    assert contacts_in(tenant) == 3
    names = sorted(c["name"] for c in client.get("/api/v1/contacts", headers=h).json()["items"])
    assert names == ["导入丙", "导入乙", "手工"]
