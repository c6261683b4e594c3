"""The console's tag screens: the tag manager (groups, tags with counts, rules on and off,
refusals that save nothing) and, in a real browser, tagging a contact on its 360° page."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from guanxi.auth.permissions import Role
from tests.conftest import ARTIFACTS
from tests.factories import PASSWORD, make_tenant
from tests.tag.client import Api
from tests.web.test_console import console_login, csrf_of


def test_the_tag_manager_shapes_groups_tags_and_rules(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    console = console_login(app, tenant.admin.email, "zh-CN")
    page = console.get("/app/tags").text
    assert 'data-testid="nav-segments"' in page
    # the module's screens are listed under it, this one marked
    for screen in ("segments", "scoring", "lifecycle"):
        assert f'href="/app/{screen}" class="sub "' in page
    assert 'href="/app/tags" class="sub current"' in page
    token = csrf_of(page)

    def post(path: str, **data: str) -> str:
        r = console.post(path, data={"csrf_token": token, **data})
        return r.text

    post("/app/tags/groups", name="行业", exclusive="1")
    [group] = api.get("/tag-groups")["items"]
    assert group["exclusive"] is True
    post("/app/tags", name="制造业", group_id=group["id"], type="fact")
    refused = console.post("/app/tags", data={"csrf_token": token, "name": "制造业"})
    assert refused.status_code == 409
    assert 'data-testid="form-error"' in refused.text
    [tag] = api.get("/tags")["items"]
    assert (tag["group_id"], tag["type"]) == (group["id"], "fact")
    contact = api.contact("客户甲")
    api.post(f"/contacts/{contact}/tags", {"tag_ids": [tag["id"]]})
    assert re.search(r'data-testid="tag-count">1<', console.get("/app/tags").text)

    post(f"/app/tags/{tag['id']}", name="高端制造", group_id="")
    assert api.get(f"/tags/{tag['id']}")["name"] == "高端制造"
    assert api.get(f"/tags/{tag['id']}")["group_id"] is None

    bad = console.post(
        "/app/tags/rules/new",
        data={
            "csrf_token": token,
            "name": "坏规则",
            "trigger": "event",
            "event_type": "page_view",
            "condition": "{not json",
            "tag_id": tag["id"],
        },
    )
    assert bad.status_code == 422
    assert api.get("/tag-rules")["items"] == []
    post(
        "/app/tags/rules/new",
        name="展会扫码",
        trigger="code",
        code="EXPO",
        event_type="page_view",
        action="add",
        tag_id=tag["id"],
    )
    [rule] = api.get("/tag-rules")["items"]
    assert (rule["code"], rule["enabled"]) == ("EXPO", True)
    assert "EXPO" in console.get("/app/tags").text
    post(f"/app/tags/rules/{rule['id']}/enabled", enabled="0")
    assert api.get(f"/tag-rules/{rule['id']}")["enabled"] is False
    post(f"/app/tags/rules/{rule['id']}/delete")
    post(f"/app/tags/{tag['id']}/delete")
    post(f"/app/tags/groups/{group['id']}", name="行业分类")
    assert api.get(f"/tag-groups/{group['id']}")["name"] == "行业分类"
    post(f"/app/tags/groups/{group['id']}/delete")
    assert api.get("/tags")["items"] == []
    assert api.get("/tag-groups")["items"] == []


def test_a_reader_sees_tags_but_changes_nothing(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    tag = api.tag("只读")
    contact = api.contact("客户乙")
    api.post(f"/contacts/{contact}/tags", {"tag_ids": [tag]})
    viewer = tenant.add(Role.viewer)
    console = console_login(app, viewer.email)
    manager = console.get("/app/tags").text
    assert "只读" in manager
    assert 'data-testid="new-tag"' not in manager
    section = console.get(f"/app/contacts/{contact}/tags").text
    assert "只读" in section
    assert "remove-tag" not in section
    token = csrf_of(console.get("/app/notifications").text)
    refused = console.post("/app/tags", data={"csrf_token": token, "name": "x"})
    assert refused.status_code == 403
    removed = console.post(
        f"/app/contacts/{contact}/tags/{tag}/remove", headers={"X-CSRF-Token": token}
    )
    assert 'data-testid="form-error"' in removed.text
    assert api.tags_of(contact) == ["只读"]
    assert [t["name"] for t in api.get("/tags")["items"]] == ["只读"]


@pytest.mark.browser
def test_tag_a_contact_on_its_page(app: FastAPI, page: Page, dialect: str) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    api.tag("VIP")
    api.tag("展会线索")
    contact = api.contact("浏览器客户")
    page.goto("/app/login")
    page.fill('input[name="email"]', tenant.admin.email)
    page.fill('input[name="password"]', PASSWORD)
    page.click('[data-testid="login-submit"]')
    page.goto(f"/app/contacts/{contact}")
    section = page.locator('[data-testid="contact-tags"]')
    expect(section).to_contain_text("No tags yet.")
    section.locator("select").select_option(label="展会线索")
    section.locator('button[type="submit"]').click()
    expect(page.locator('[data-testid="held-tag"]')).to_have_count(1)
    expect(page.locator('[data-testid="held-tag"]')).to_contain_text("展会线索")
    assert api.tags_of(contact) == ["展会线索"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"contact-tags-{dialect}.png"), full_page=True)
    page.locator('[data-testid="remove-tag"]').click()
    expect(page.locator('[data-testid="held-tag"]')).to_have_count(0)
    assert api.tags_of(contact) == []
    page.click('[data-testid="nav-segments"]')
    expect(page.locator('[data-testid="page-title"]')).to_have_text("Segments")
    page.click('[data-testid="nav-tags"]')
    expect(page.locator('[data-testid="page-title"]')).to_have_text("Tags")
    assert (
        TestClient(app)
        .get(f"/api/v1/contacts/{contact}/timeline?type=tag_removed", headers=tenant.admin.auth)
        .json()["items"]
    )
