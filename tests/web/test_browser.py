"""A real browser (Debian's Chromium driven by Playwright) signs in, switches language and
takes screenshots (kept in test-artifacts/)."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect

from tests.conftest import ARTIFACTS
from tests.factories import PASSWORD, make_tenant

pytestmark = pytest.mark.browser


def test_sign_in_switch_language_and_screenshot(app: FastAPI, page: Page, dialect: str) -> None:
    tenant = make_tenant(app, "浏览器 Browser Co.")
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto("/app")
    expect(page).to_have_url(re.compile(r".*/app/login.*"))
    page.fill('input[name="email"]', tenant.admin.email)
    page.fill('input[name="password"]', PASSWORD)
    page.click('[data-testid="login-submit"]')
    expect(page.get_by_test_id("page-title")).to_contain_text("Welcome")
    assert page.evaluate("typeof htmx") == "object"  # vendor libraries installed from npm
    page.screenshot(path=str(ARTIFACTS / f"console-en-{dialect}.png"), full_page=True)

    page.click('[data-testid="lang-zh_CN"]')
    expect(page.get_by_test_id("page-title")).to_contain_text("欢迎")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.screenshot(path=str(ARTIFACTS / f"console-zh-{dialect}.png"), full_page=True)

    page.click('[data-testid="nav-settings"]')
    expect(page.get_by_test_id("members")).to_contain_text(tenant.admin.email)
    page.screenshot(path=str(ARTIFACTS / f"console-members-zh-{dialect}.png"), full_page=True)
    # add a member, then change their role in the table (inputs tied to the row's form)
    form = page.locator('[data-testid="add-member"]')
    form.locator('input[name="name"]').fill("王芳")
    form.locator('input[name="email"]').fill(
        f"wangfang-{dialect}-{tenant.workspace_id}@example.test"
    )
    form.locator('input[name="password"]').fill("longenough")
    form.locator('button[type="submit"]').click()
    row = page.locator("tr", has_text="王芳")
    row.locator('select[name="role"]').select_option("cs")
    row.locator('button[type="submit"]').click()
    expect(page.locator("tr", has_text="王芳").locator('select[name="role"]')).to_have_value("cs")
    page.click('[data-testid="tab-api-keys"]')
    page.fill('[data-testid="create-key"] input[name="name"]', "浏览器密钥")
    page.check('[data-testid="create-key"] input[value="users:read"]')
    page.click('[data-testid="create-key"] button[type="submit"]')
    expect(page.get_by_test_id("new-secret")).to_contain_text("gx_")
    page.screenshot(path=str(ARTIFACTS / f"console-api-keys-zh-{dialect}.png"), full_page=True)

    page.reload()
    expect(page.get_by_test_id("api-keys")).to_contain_text("浏览器密钥")

    # a contact created and edited through the console's forms
    page.click('[data-testid="nav-contacts"]')
    page.click('[data-testid="new-contact"]')
    form = page.get_by_test_id("contact-form")
    form.locator('input[name="name"]').fill("韩梅梅")
    form.locator('input[name="phone"]').fill("138 0000 0099")
    form.locator('select[name="gender"]').select_option("female")
    page.click('[data-testid="save-contact"]')
    expect(page.get_by_test_id("page-title")).to_contain_text("韩梅梅")
    expect(page.get_by_test_id("profile")).to_contain_text("+8613800000099")
    page.click('[data-testid="edit-contact"]')
    page.get_by_test_id("contact-form").locator('input[name="title"]').fill("市场总监")
    page.click('[data-testid="save-contact"]')
    expect(page.get_by_test_id("profile")).to_contain_text("市场总监")
    page.screenshot(path=str(ARTIFACTS / f"console-contact-zh-{dialect}.png"), full_page=True)
    page.click('[data-testid="logout"]')
    expect(page).to_have_url(re.compile(r".*/app/login.*"))
