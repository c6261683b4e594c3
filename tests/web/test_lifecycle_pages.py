"""The lifecycle console: stage settings (add, rename, reorder, entry rules with errors shown,
delete refused while in use), the funnel, the contact page's stage section and the contact
form's stage; and, in a browser, moving a contact from its page."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

import guanxi.lifecycle.tasks  # noqa: F401  (registers the re-apply job)
from guanxi.auth.permissions import Role
from guanxi.worker import jobs
from tests.conftest import ARTIFACTS
from tests.factories import PASSWORD, Tenant, make_tenant
from tests.web.test_console import console_login, csrf_of


def stage_ids(client: TestClient, tenant: Tenant) -> dict[str, str]:
    items = client.get("/api/v1/lifecycle/stages", headers=tenant.admin.auth).json()["items"]
    return {s["key"]: s["id"] for s in items}


def test_stage_settings(app: FastAPI) -> None:
    tenant, api = make_tenant(app), TestClient(app)
    console = console_login(app, tenant.admin.email)
    html = console.get("/app/lifecycle").text
    assert "Marketing qualified lead (MQL)" in html
    assert 'data-testid="funnel"' in html
    csrf = csrf_of(html)

    r = console.post(
        "/app/lifecycle/stages",
        data={"csrf_token": csrf, "key": "nurture", "name": "培育", "kind": "funnel",
              "before": "mql"},
    )  # fmt: skip
    assert r.status_code == 200
    assert list(stage_ids(api, tenant))[:4] == ["subscriber", "lead", "nurture", "mql"]
    ids = stage_ids(api, tenant)

    r = console.post(
        f"/app/lifecycle/stages/{ids['nurture']}",
        data={"csrf_token": csrf, "name": "培育池", "entry_rule": "{not json"},
    )
    assert r.status_code == 422
    assert "The entry rule is not valid JSON" in r.text
    assert "{not json" in r.text  # what was typed stays in the textarea
    rule = {"kind": "field", "field": "custom.nope", "op": "is_set"}
    r = console.post(
        f"/app/lifecycle/stages/{ids['nurture']}",
        data={"csrf_token": csrf, "name": "培育池", "entry_rule": json.dumps(rule)},
    )
    assert r.status_code == 422
    assert "unknown field custom.nope" in r.text
    rule = {"kind": "field", "field": "title", "op": "is_set"}
    r = console.post(
        f"/app/lifecycle/stages/{ids['nurture']}",
        data={"csrf_token": csrf, "name": "培育池", "entry_rule": json.dumps(rule)},
    )
    assert r.status_code == 200
    stages = api.get("/api/v1/lifecycle/stages", headers=tenant.admin.auth).json()["items"]
    nurture = next(s for s in stages if s["key"] == "nurture")
    assert nurture["name"] == "培育池"
    assert nurture["entry_rule"]["field"] == "title"

    # saving a default stage with its shown name unchanged keeps the translatable default
    console.post(
        f"/app/lifecycle/stages/{ids['lead']}",
        data={"csrf_token": csrf, "name": "Lead", "entry_rule": ""},
    )
    stages = api.get(
        "/api/v1/lifecycle/stages", headers={**tenant.admin.auth, "Accept-Language": "en"}
    ).json()["items"]
    assert next(s for s in stages if s["key"] == "lead")["name"] == "Lead"

    console.post(
        f"/app/lifecycle/stages/{ids['nurture']}/shift",
        data={"csrf_token": csrf, "direction": "up"},
    )
    assert list(stage_ids(api, tenant))[:3] == ["subscriber", "nurture", "lead"]

    contact = api.post(
        "/api/v1/contacts", json={"name": "A", "stage": "nurture"}, headers=tenant.admin.auth
    ).json()
    r = console.post(f"/app/lifecycle/stages/{ids['nurture']}/delete", data={"csrf_token": csrf})
    assert r.status_code == 409
    assert "1 contacts are in this stage" in r.text
    api.post(
        f"/api/v1/contacts/{contact['id']}/stage", json={"stage": "lead"}, headers=tenant.admin.auth
    )
    r = console.post(f"/app/lifecycle/stages/{ids['nurture']}/delete", data={"csrf_token": csrf})
    assert r.status_code == 200
    assert "nurture" not in stage_ids(api, tenant)

    r = console.post("/app/lifecycle/reapply", data={"csrf_token": csrf})
    assert 'data-testid="notice"' in r.text
    while jobs.run_one(app.state.sessionmaker):  # run it: no job left pending for other tests
        pass

    viewer = tenant.add(Role.viewer)
    seen = console_login(app, viewer.email).get("/app/lifecycle").text
    assert 'data-testid="stages"' in seen
    assert 'data-testid="new-stage"' not in seen


def test_the_contact_page_section_and_the_form(app: FastAPI) -> None:
    tenant, api = make_tenant(app), TestClient(app)
    contact = api.post("/api/v1/contacts", json={"name": "B"}, headers=tenant.admin.auth).json()
    console = console_login(app, tenant.admin.email)
    view = console.get(f"/app/contacts/{contact['id']}").text
    assert f'hx-get="/app/contacts/{contact["id"]}/lifecycle"' in view
    csrf = csrf_of(view)
    section = console.get(f"/app/contacts/{contact['id']}/lifecycle").text
    assert "No stage changes yet." in section
    assert 'href="/app/lifecycle"' in section

    r = console.post(
        f"/app/contacts/{contact['id']}/lifecycle",
        data={"stage": "sql", "note": "预算已确认"},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert r.status_code == 200
    assert "预算已确认" in r.text
    assert "By hand" in r.text
    r = console.post(
        f"/app/contacts/{contact['id']}/lifecycle",
        data={"stage": "nope"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 422
    assert "There is no stage nope" in r.text
    history = api.get(f"/api/v1/contacts/{contact['id']}/stages", headers=tenant.admin.auth).json()[
        "items"
    ]
    assert [(c["to_stage"], c["cause"]) for c in history] == [("sql", "user")]

    form = console.get(f"/app/contacts/{contact['id']}/edit").text
    assert '<option value="sql" selected>' in form
    r = console.post(
        f"/app/contacts/{contact['id']}/edit",
        data={"csrf_token": csrf, "name": "B", "stage": "lead"},
    )
    assert r.status_code == 200
    history = api.get(f"/api/v1/contacts/{contact['id']}/stages", headers=tenant.admin.auth).json()[
        "items"
    ]
    latest = history[0]
    assert (latest["to_stage"], latest["cause"], latest["backward"]) == ("lead", "user", True)
    r = console.post(
        f"/app/contacts/{contact['id']}/edit",
        data={"csrf_token": csrf, "name": "B", "stage": ""},
    )
    assert r.status_code == 422
    assert "cannot leave it" in r.text


def test_move_a_contact_from_its_page(app: FastAPI, page: Page, dialect: str) -> None:
    tenant, api = make_tenant(app), TestClient(app)
    contact = api.post(
        "/api/v1/contacts", json={"name": "陈静", "stage": "lead"}, headers=tenant.admin.auth
    ).json()
    page.goto("/app")
    page.fill('input[name="email"]', tenant.admin.email)
    page.fill('input[name="password"]', PASSWORD)
    page.click('[data-testid="login-submit"]')
    page.goto(f"/app/contacts/{contact['id']}")
    section = page.get_by_test_id("lifecycle")
    expect(section.get_by_test_id("current-stage")).to_have_text("Lead")
    section.get_by_test_id("move-stage").select_option("opportunity")
    section.get_by_test_id("move-note").fill("需求明确")
    section.get_by_test_id("move").click()
    expect(page.get_by_test_id("current-stage")).to_have_text("Opportunity")
    expect(page.get_by_test_id("stage-history")).to_contain_text("需求明确")
    page.get_by_test_id("move-stage").select_option("lead")
    page.get_by_test_id("move").click()
    expect(page.get_by_test_id("backward")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / f"lifecycle-contact-{dialect}.png"), full_page=True)
    page.goto("/app/lifecycle")
    expect(page.get_by_test_id("funnel").locator('tr[data-stage="opportunity"]')).to_contain_text(
        "1"
    )
    page.screenshot(path=str(ARTIFACTS / f"lifecycle-settings-{dialect}.png"), full_page=True)
