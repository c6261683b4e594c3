"""The console's suppression screen: search and filter, add one, upload a CSV file, remove;
refusals that save nothing; a viewer reads only; another workspace's row is not found."""

from __future__ import annotations

import re

from fastapi import FastAPI

from guanxi.auth.permissions import Role
from guanxi.i18n import gettext
from tests.factories import make_tenant
from tests.tag.client import Api
from tests.web.test_console import console_login, csrf_of


def rows(html: str) -> list[str]:
    return re.findall(r'data-testid="suppression-row">\s*<td><code>([^<]+)</code>', html)


def test_the_suppression_screen(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    console = console_login(app, tenant.admin.email, "zh-CN")
    console.cookies.set("guanxi_lang", "zh_CN")  # the language picked in the console
    page = console.get("/app/suppressions").text
    assert gettext("Suppression lists", "zh_CN") in page
    assert rows(page) == []
    token = csrf_of(page)

    added = console.post(
        "/app/suppressions",
        data={
            "csrf_token": token,
            "channel": "email",
            "address": "Zhao@Acme.cn",
            "note": "客户要求",
        },
    )
    assert added.status_code == 200
    assert 'data-testid="result"' in added.text
    assert rows(added.text) == ["zhao@acme.cn"]

    refused = console.post(
        "/app/suppressions", data={"csrf_token": token, "channel": "sms", "address": "12"}
    )
    assert refused.status_code == 422
    assert 'data-testid="form-error"' in refused.text
    assert len(api.get("/suppressions")["items"]) == 1

    uploaded = console.post(
        "/app/suppressions/import",
        data={"csrf_token": token, "channel": "sms", "reason": "unsubscribe"},
        files={
            "file": ("list.csv", "手机\n13800138000\n坏号码\n13800138001\n".encode(), "text/csv")
        },
    )
    assert uploaded.status_code == 200, uploaded.text
    assert "坏号码" in uploaded.text  # the skipped line is named
    assert sorted(rows(uploaded.text)) == ["+8613800138000", "+8613800138001"]

    assert rows(console.get("/app/suppressions?channel=email").text) == ["zhao@acme.cn"]
    assert rows(console.get("/app/suppressions?q=0138001").text) == ["+8613800138001"]
    everything = console.get("/app/suppressions").text
    assert len(rows(everything)) == 3

    row_id = next(s["id"] for s in api.get("/suppressions")["items"] if s["channel"] == "email")
    gone = console.post(
        f"/app/suppressions/{row_id}/delete", data={"csrf_token": token}, follow_redirects=False
    )
    assert (gone.status_code, gone.headers["location"]) == (303, "/app/suppressions")
    assert [s["channel"] for s in api.get("/suppressions")["items"]] == ["sms", "sms"]

    # another workspace's row is not found here, and stays
    stranger = Api(make_tenant(app))
    stranger.post("/suppressions", {"channel": "email", "address": "s@acme.cn"})
    [theirs] = stranger.get("/suppressions")["items"]
    missing = console.post(f"/app/suppressions/{theirs['id']}/delete", data={"csrf_token": token})
    assert missing.status_code == 404
    assert "<html" in missing.text
    assert len(stranger.get("/suppressions")["items"]) == 1


def test_a_viewer_reads_and_writes_nothing(app: FastAPI) -> None:
    tenant = make_tenant(app)
    Api(tenant).post("/suppressions", {"channel": "email", "address": "kept@acme.cn"})
    viewer = tenant.add(Role.viewer)
    console = console_login(app, viewer.email)
    page = console.get("/app/suppressions").text
    assert rows(page) == ["kept@acme.cn"]
    assert 'data-testid="add"' not in page
    assert 'data-testid="remove"' not in page
    r = console.post(
        "/app/suppressions",
        data={"csrf_token": csrf_of(page), "channel": "email", "address": "v@acme.cn"},
    )
    assert r.status_code == 403
    assert [s["address"] for s in Api(tenant).get("/suppressions")["items"]] == ["kept@acme.cn"]
