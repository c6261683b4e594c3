"""The customer-data screens through HTTP: list and search, the 360° page, merge undo, accounts
with their org chart, and the import wizard from upload to problems."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

import guanxi.importer.tasks  # noqa: F401
from guanxi.auth.permissions import Role
from guanxi.worker import jobs
from tests.factories import make_tenant
from tests.web.test_console import console_login, csrf_of


def test_contacts_list_search_and_the_360_page(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api, h = TestClient(app), tenant.admin.auth
    account = api.post("/api/v1/accounts", json={"name": "华科科技"}, headers=h).json()
    keep = api.post(
        "/api/v1/contacts", json={"name": "李雷", "phone": "13800000011", "custom": {}}, headers=h
    ).json()
    dup = api.post(
        "/api/v1/contacts", json={"name": "Li Lei", "email": "li@x.cn"}, headers=h
    ).json()
    api.put(
        f"/api/v1/accounts/{account['id']}/contacts/{keep['id']}",
        json={"role": "champion", "title": "CTO"},
        headers=h,
    )
    api.post(
        "/api/v1/identify",
        json={
            "identities": [{"kind": "email", "value": "li@x.cn"}],
            "events": [{"type": "page_view", "properties": {"url": "/pricing"}}],
        },
        headers=h,
    )
    merge = api.post(
        f"/api/v1/contacts/{keep['id']}/merge", json={"other_id": dup["id"]}, headers=h
    ).json()
    console = console_login(app, tenant.admin.email, "zh-CN")
    listing = console.get("/app/contacts").text
    assert "李雷" in listing
    assert "Li Lei" not in listing  # merged away
    assert "李雷" in console.get("/app/contacts?q=13800000011").text
    assert "李雷" not in console.get("/app/contacts?q=nobody").text
    view = console.get(f"/app/contacts/{keep['id']}").text
    assert "page_view" in view
    assert "/pricing" in view
    assert "华科科技" in view
    assert "champion" in view
    assert 'data-testid="undo-merge"' in view
    r = console.post(
        f"/app/merges/{merge['id']}/undo",
        data={"csrf_token": csrf_of(view)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "Li Lei" in console.get("/app/contacts").text
    chart = console.get(f"/app/accounts/{account['id']}").text
    assert 'data-testid="org-chart"' in chart
    assert "李雷" in chart
    assert "CTO" in chart
    assert "华科科技" in console.get("/app/accounts?q=华科").text


def test_the_import_wizard(app: FastAPI) -> None:
    tenant = make_tenant(app)
    console = console_login(app, tenant.admin.email)
    page = console.get("/app/imports").text
    token = csrf_of(page)
    content = "姓名,手机,公司\n王芳,13900000001,新公司\n坏行,123,新公司\n".encode("gbk")
    r = console.post(
        "/app/imports/upload",
        data={"csrf_token": token},
        files={"file": ("a.csv", content, "text/csv")},
    )
    assert r.status_code == 200
    assert 'data-testid="mapping"' in r.text
    assert re.search(r'<option value="phone" selected>', r.text)
    file_id = re.search(r'name="file_id" value="(\d+)"', r.text).group(1)  # type: ignore[union-attr]
    form = {
        "csrf_token": token,
        "file_id": file_id,
        "map:姓名": "name",
        "map:手机": "phone",
        "map:公司": "account.name",
        "dedup": "update",
        "accounts": "create",
    }
    r = console.post("/app/imports/start", data=form, follow_redirects=False)
    assert r.status_code == 303
    status_url = r.headers["location"]
    assert "Waiting for a worker" in console.get(status_url).text
    while jobs.run_one(app.state.sessionmaker):
        pass
    status = console.get(status_url).text
    assert "Done" in status
    assert "Invalid phone number" in status
    assert "123" in status
    assert "王芳" in console.get("/app/contacts").text
    viewer = tenant.add(Role.viewer)
    as_viewer = console_login(app, viewer.email)
    r = as_viewer.post(
        "/app/imports/upload",
        data={"csrf_token": csrf_of(as_viewer.get("/app").text)},
        files={"file": ("a.csv", content, "text/csv")},
    )
    assert r.status_code == 403


def test_the_duplicates_screen_merges_a_pair(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api, h = TestClient(app), tenant.admin.auth
    a = api.post(
        "/api/v1/contacts", json={"name": "赵敏", "city": "杭州", "phone": "13800000021"}, headers=h
    ).json()
    b = api.post(
        "/api/v1/contacts", json={"name": "赵敏", "city": "杭州", "email": "zm@x.cn"}, headers=h
    ).json()
    console = console_login(app, tenant.admin.email)
    screen = console.get("/app/duplicates").text
    assert 'data-testid="merge-pair"' in screen
    r = console.post(
        "/app/duplicates/merge",
        data={"csrf_token": csrf_of(screen), "keep": a["id"], "other": b["id"]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    merged = api.get(f"/api/v1/contacts/{a['id']}", headers=h).json()
    assert merged["contact"]["email"] == "zm@x.cn"
    assert "No likely duplicates." in console.get("/app/duplicates").text


def test_the_bell_and_the_notifications_page(app: FastAPI) -> None:
    tenant = make_tenant(app)
    rep = tenant.add(Role.sales, name="Rep Wang")
    api = TestClient(app)
    contact = api.post(
        "/api/v1/contacts",
        json={"name": "VIP 客户", "owner_id": str(rep.user_id)},
        headers=tenant.admin.auth,
    ).json()
    api.patch(f"/api/v1/contacts/{contact['id']}", json={"title": "CEO"}, headers=tenant.admin.auth)
    console = console_login(app, rep.email)
    home = console.get("/app").text
    assert re.search(r'data-testid="bell"[^>]*>🔔 <span class="count">1</span>', home)
    page = console.get("/app/notifications").text
    assert "changed your contact VIP 客户" in page
    console.post("/app/notifications/read", data={"csrf_token": csrf_of(page)})
    assert '<span class="count">' not in console.get("/app").text


def test_saved_mappings_and_the_excel_export_from_the_console(app: FastAPI) -> None:
    tenant = make_tenant(app)
    console = console_login(app, tenant.admin.email)
    token = csrf_of(console.get("/app/imports").text)
    content = "客户名,联系方式\n周杰,13900000002\n".encode()
    r = console.post(
        "/app/imports/upload",
        data={"csrf_token": token},
        files={"file": ("a.csv", content, "text/csv")},
    )
    file_id = re.search(r'name="file_id" value="(\d+)"', r.text).group(1)  # type: ignore[union-attr]
    form = {
        "csrf_token": token,
        "file_id": file_id,
        "map:客户名": "name",
        "map:联系方式": "phone",
        "save_as": "我的映射",
    }
    assert console.post("/app/imports/start", data=form, follow_redirects=False).status_code == 303
    while jobs.run_one(app.state.sessionmaker, app.state.settings.data_dir):
        pass
    # the next file with the same columns: the saved mapping applies in one click
    r = console.post(
        "/app/imports/upload",
        data={"csrf_token": token},
        files={"file": ("b.csv", content, "text/csv")},
    )
    assert 'data-testid="saved-mapping"' in r.text
    link = re.search(r'href="(/app/imports/files/\d+\?mapping_id=\d+)"', r.text).group(1)  # type: ignore[union-attr]
    applied = console.get(link).text
    assert re.search(r'<option value="name" selected>', applied)
    r = console.post(
        "/app/exports", data={"csrf_token": token, "format": "xlsx"}, follow_redirects=False
    )
    assert r.status_code == 303
    while jobs.run_one(app.state.sessionmaker, app.state.settings.data_dir):
        pass
    status = console.get(r.headers["location"]).text
    assert 'data-testid="download"' in status
    download = console.get(re.search(r'href="(/api/v1/exports/\d+/file)"', status).group(1))  # type: ignore[union-attr]
    assert download.status_code == 200
    assert download.content[:2] == b"PK"
