"""The console's event screens: the live stream with filters, the form builder (create, refuse,
edit, preview, submissions) and the web tracking settings."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.auth.permissions import Role
from tests.factories import make_tenant
from tests.web.test_console import console_login, csrf_of


def test_the_event_stream_lists_and_filters(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api = TestClient(app)
    api.post(
        "/api/v1/events/batch",
        json={
            "events": [
                {
                    "type": "page_view",
                    "anonymous_id": "stream-1",
                    "channel": "web",
                    "properties": {"url": "/定价"},
                },
                {
                    "type": "note",
                    "anonymous_id": "stream-1",
                    "channel": "crm",
                    "properties": {"text": "回电"},
                },
            ]
        },
        headers=tenant.admin.auth,
    )
    console = console_login(app, tenant.admin.email)
    page = console.get("/app/events").text
    assert "Recent events" in page
    assert "/定价" in page
    assert "回电" in page
    rows = console.get("/app/events/rows", params={"type": "note"}).text
    assert "回电" in rows
    assert "/定价" not in rows
    assert "/定价" not in console.get("/app/events/rows", params={"channel": "crm"}).text
    sdr = tenant.add(Role.sdr)  # team scope: the stream is the whole workspace's
    assert console_login(app, sdr.email, "en").get("/app/events").status_code == 403


def rows(*fields: dict[str, str]) -> dict[str, str]:
    data = {"rows": str(len(fields) + 1)}
    for i, f in enumerate(fields):
        for k, v in f.items():
            data[f"f{i}_{k}"] = v
    return data


def test_build_a_form_preview_it_and_see_submissions(app: FastAPI) -> None:
    tenant = make_tenant(app)
    console = console_login(app, tenant.admin.email, "zh-CN")
    blank = console.get("/app/forms/new").text
    refused = console.post(
        "/app/forms/new",
        data={
            "csrf_token": csrf_of(blank),
            "name": "无效",
            "language": "zh_CN",
            **rows({"key": "name", "label": "姓名"}),
        },
    )
    assert refused.status_code == 422
    assert 'data-testid="form-error"' in refused.text
    assert TestClient(app).get("/api/v1/forms", headers=tenant.admin.auth).json() == []

    made = console.post(
        "/app/forms/new",
        data={
            "csrf_token": csrf_of(blank),
            "name": "活动报名",
            "language": "zh_CN",
            "thank_you": "报名成功！",
            "progressive": "1",
            **rows(
                {"key": "name", "label": "姓名", "type": "text", "required": "1"},
                {"key": "phone", "label": "手机", "type": "phone", "required": "1"},
                {
                    "key": "extra",
                    "extra": "session",
                    "label": "场次",
                    "type": "select",
                    "options": "上午, 下午",
                },
            ),
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    path = made.headers["location"]
    [form] = TestClient(app).get("/api/v1/forms", headers=tenant.admin.auth).json()
    assert [f["key"] for f in form["fields"]] == ["name", "phone", "extra.session"]
    assert form["fields"][2]["options"] == ["上午", "下午"]
    assert form["settings"]["thank_you"] == "报名成功！"

    answer = TestClient(app).post(
        f"/f/{form['public_key']}",
        content=json.dumps(
            {"values": {"name": "孙八", "phone": "13700000000", "extra.session": "下午"}}
        ),
        headers={"Origin": "http://testserver"},
    )
    assert answer.json()["message"] == "报名成功！"
    page = console.get(path).text
    assert f'src="/f/{form["public_key"]}"' in page  # the preview
    assert "extra.session: 下午" in page
    assert "活动报名" in console.get("/app/forms").text


def test_tracking_settings_show_the_snippet_and_save_origins(app: FastAPI) -> None:
    tenant = make_tenant(app)
    console = console_login(app, tenant.admin.email, "en")
    page = console.get("/app/settings/tracking").text
    assert "/g.js" in page
    assert "No origin yet" in page
    bad = console.post(
        "/app/settings/tracking", data={"csrf_token": csrf_of(page), "allowed_origins": "ftp://x"}
    )
    assert bad.status_code == 422
    assert "Not an origin" in bad.text
    ok = console.post(
        "/app/settings/tracking",
        data={
            "csrf_token": csrf_of(page),
            "allowed_origins": "https://WWW.Example.cn/\nhttp://localhost:3000",
        },
    )
    assert ok.status_code == 200
    got = TestClient(app).get("/api/v1/tracking", headers=tenant.admin.auth).json()
    assert got["allowed_origins"] == ["http://localhost:3000", "https://www.example.cn"]


def test_content_is_made_and_shared_through_my_own_link(app: FastAPI) -> None:
    tenant = make_tenant(app)
    rep = tenant.add(Role.sales)
    console = console_login(app, tenant.admin.email)
    page = console.get("/app/content").text
    refused = console.post(
        "/app/content", data={"csrf_token": csrf_of(page), "title": "Only a title"}
    )
    assert refused.status_code == 422
    assert 'data-testid="form-error"' in refused.text
    made = console.post(
        "/app/content",
        data={"csrf_token": csrf_of(page), "title": "CRM 选型指南", "body": "第一段\n\n第二段"},
        follow_redirects=False,
    )
    assert made.status_code == 303
    [item] = TestClient(app).get("/api/v1/content", headers=tenant.admin.auth).json()
    as_rep = console_login(app, rep.email)
    rep_page = as_rep.get("/app/content").text
    shared = as_rep.post(
        f"/app/content/{item['id']}/links",
        data={"csrf_token": csrf_of(rep_page), "channel_code": "wecom-moments"},
    )
    assert shared.status_code == 200
    assert 'data-testid="new-link"' in shared.text
    [link] = (
        TestClient(app).get(f"/api/v1/content/{item['id']}/links", headers=tenant.admin.auth).json()
    )
    assert (link["sender_id"], link["channel_code"]) == (str(rep.user_id), "wecom-moments")
    assert f"/c/{link['code']}" in shared.text
