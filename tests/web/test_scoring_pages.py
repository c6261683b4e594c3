"""The console's scoring screens: models and rules made and refused through the forms (errors
shown in the page, nothing written), the preview, a contact's scores on its 360 page; then a
real browser makes a model and a rule and sees a preview."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from guanxi.auth.permissions import Role
from tests.conftest import ARTIFACTS
from tests.factories import PASSWORD, Tenant, make_tenant
from tests.web.test_console import console_login, csrf_of


def api(app: FastAPI, tenant: Tenant, method: str, url: str, **kw: Any) -> Any:
    r = TestClient(app).request(method, f"/api/v1{url}", headers=tenant.admin.auth, **kw)
    assert r.status_code < 300, r.text
    return r.json() if r.content else None


def lead(app: FastAPI, tenant: Tenant, email: str, **fields: Any) -> str:
    contact = api(app, tenant, "POST", "/contacts", json={"email": email, **fields})
    api(
        app,
        tenant,
        "POST",
        "/events/batch",
        json={
            "events": [
                {
                    "type": "page_view",
                    "properties": {"url": f"https://x.cn/pricing?{i}"},
                    "identities": [{"kind": "email", "value": email}],
                }
                for i in range(3)
            ]
        },
    )
    return str(contact["id"])


def test_models_and_rules_through_the_forms(app: FastAPI) -> None:
    tenant = make_tenant(app)
    console = console_login(app, tenant.admin.email)
    listing = console.get("/app/scoring")
    assert listing.status_code == 200
    assert "No scoring models yet." in listing.text
    token = csrf_of(listing.text)
    refused = console.post("/app/scoring", data={"csrf_token": token, "name": ""})
    assert refused.status_code == 422
    assert 'data-testid="form-error"' in refused.text
    assert api(app, tenant, "GET", "/scoring/models") == []

    made = console.post(
        "/app/scoring",
        data={"csrf_token": token, "name": "互动分", "kind": "points"},
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    path = made.headers["location"]
    model_id = path.rsplit("/", 1)[1]
    settings = {
        "csrf_token": token,
        "name": "互动分",
        "decay": "half_life",
        "decay_days": "30",
        "grade_A": "80",
        "grade_B": "50",
        "grade_C": "20",
        "rollup": "max",
        "rollup_n": "3",
        "enabled": "1",
    }
    # a half-life without its days: refused, the page shows why and keeps what was typed
    refused = console.post(path, data={**settings, "decay_days": ""})
    assert refused.status_code == 422
    assert "decay_days goes with a decay" in refused.text
    assert 'value="80"' in refused.text
    assert console.post(path, data=settings, follow_redirects=False).status_code == 303
    model = api(app, tenant, "GET", f"/scoring/models/{model_id}")
    assert (model["decay"], model["decay_days"], model["grades"], model["rollup"]) == (
        "half_life",
        30,
        {"A": 80.0, "B": 50.0, "C": 20.0},
        "max",
    )

    rule = {
        "csrf_token": token,
        "kind": "engagement",
        "name": "看定价页",
        "event_type": "page_view",
        "where": "url contains /pricing",
        "points": "10",
        "cap": "25",
        "cap_days": "7",
    }
    for bad, message in (
        ({"where": "url is /pricing"}, "a property filter reads"),
        ({"event_type": "score_changed"}, "scores do not earn points"),
        ({"cap_days": ""}, "a cap goes with its period in days"),
    ):
        refused = console.post(f"{path}/rules", data={**rule, **bad})
        assert refused.status_code == 422, bad
        assert message in refused.text
        assert "看定价页" in refused.text  # the draft is kept
    fit = {
        "csrf_token": token,
        "kind": "fit",
        "name": "经理",
        "condition": "{not json",
        "points": "40",
    }
    refused = console.post(f"{path}/rules", data=fit)
    assert (refused.status_code, "the condition is not valid JSON" in refused.text) == (422, True)
    unknown = json.dumps({"kind": "field", "field": "shoe", "op": "eq", "value": "x"})
    refused = console.post(f"{path}/rules", data={**fit, "condition": unknown})
    assert (refused.status_code, "unknown field shoe" in refused.text) == (422, True)
    assert api(app, tenant, "GET", f"/scoring/models/{model_id}/rules") == []

    assert console.post(f"{path}/rules", data=rule, follow_redirects=False).status_code == 303
    manager = json.dumps({"kind": "field", "field": "title", "op": "contains", "value": "经理"})
    made = console.post(f"{path}/rules", data={**fit, "condition": manager})
    assert made.status_code == 200  # followed to the model page
    saved = api(app, tenant, "GET", f"/scoring/models/{model_id}/rules")
    assert [(r["name"], r["where"], r["cap"], r["condition"]) for r in saved] == [
        ("看定价页", [{"property": "url", "op": "contains", "value": "/pricing"}], 25.0, None),
        ("经理", [], None, json.loads(manager)),
    ]
    page = console.get(path).text
    assert "url contains /pricing" in page
    # a rule edited, then one deleted
    edited = console.post(
        f"/app/scoring/rules/{saved[0]['id']}",
        data={**rule, "where": 'url contains "/pricing"\nplan eq "42"', "points": "-5"},
        follow_redirects=False,
    )
    assert edited.status_code == 303
    again = api(app, tenant, "GET", f"/scoring/models/{model_id}/rules")[0]
    assert (again["points"], again["where"][1]) == (
        -5.0,
        {"property": "plan", "op": "eq", "value": "42"},
    )
    assert "plan eq &#34;42&#34;" in console.get(path).text
    gone = console.post(
        f"/app/scoring/rules/{saved[1]['id']}/delete",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert gone.status_code == 303
    assert [r["name"] for r in api(app, tenant, "GET", f"/scoring/models/{model_id}/rules")] == [
        "看定价页"
    ]

    # a combined model weighs it: deleting it is refused in the page
    combined = console.post(
        "/app/scoring", data={"csrf_token": token, "name": "综合", "kind": "combined"}
    )
    assert combined.status_code == 200
    assert f'name="w_{model_id}"' in combined.text
    refused = console.post(f"{path}/delete", data={"csrf_token": token})
    assert (refused.status_code, "综合" in refused.text) == (409, True)
    assert len(api(app, tenant, "GET", "/scoring/models")) == 2


def test_the_preview_and_the_contacts_scores(app: FastAPI) -> None:
    tenant = make_tenant(app)
    model = api(app, tenant, "POST", "/scoring/models", json={"name": "Engagement"})
    api(
        app,
        tenant,
        "POST",
        f"/scoring/models/{model['id']}/rules",
        json={"kind": "engagement", "name": "Views", "event_type": "page_view", "points": 10},
    )
    who = lead(app, tenant, "pv@acme.cn", name="Preview Person", title="采购经理")
    console = console_login(app, tenant.admin.email)
    token = csrf_of(console.get("/app/scoring").text)
    url = f"/app/scoring/{model['id']}"
    found = console.get(f"{url}/contacts", params={"q": "preview"}).text
    assert "Preview Person" in found
    assert "No contact found." in console.get(f"{url}/contacts", params={"q": "nobody"}).text
    shown = console.post(f"{url}/preview", data={"csrf_token": token, "contact_id": who})
    assert shown.status_code == 200
    assert re.search(r'data-testid="preview-score">30.0<', shown.text)
    assert shown.text.count("<td>Views</td>") == 3
    # with the fit rule being drafted: saved rules plus the draft, nothing saved
    manager = json.dumps({"kind": "field", "field": "title", "op": "contains", "value": "经理"})
    drafted = console.post(
        f"{url}/preview",
        data={
            "csrf_token": token,
            "contact_id": who,
            "kind": "fit",
            "name": "Manager",
            "condition": manager,
            "points": "80",
        },
    )
    assert re.search(r'data-testid="preview-score">110.0<', drafted.text)
    assert re.search(r'data-testid="preview-grade">A<', drafted.text)
    assert len(api(app, tenant, "GET", f"/scoring/models/{model['id']}/rules")) == 1
    refused = console.post(f"{url}/preview", data={"csrf_token": token, "contact_id": ""})
    assert (refused.status_code, 'data-testid="preview-error"' in refused.text) == (422, True)
    missing = console.post(f"{url}/preview", data={"csrf_token": token, "contact_id": "99999"})
    assert (missing.status_code, "Contact not found." in missing.text) == (404, True)

    scores = console.get(f"/app/contacts/{who}/scores").text
    assert 'data-testid="contact-scores"' in scores
    assert "<td>30.0</td>" in scores
    assert f'hx-get="/app/contacts/{who}/scores"' in console.get(f"/app/contacts/{who}").text


def test_readers_see_but_cannot_change(app: FastAPI) -> None:
    tenant = make_tenant(app)
    model = api(app, tenant, "POST", "/scoring/models", json={"name": "Engagement"})
    viewer = tenant.add(Role.viewer)
    console = console_login(app, viewer.email, "zh-CN")
    page = console.get(f"/app/scoring/{model['id']}")
    assert page.status_code == 200
    assert 'data-testid="save-model"' not in page.text
    assert 'data-testid="new-model"' not in console.get("/app/scoring").text
    token = csrf_of(page.text)
    refused = console.post(
        f"/app/scoring/{model['id']}", data={"csrf_token": token, "name": "改名"}
    )
    assert refused.status_code == 403
    assert api(app, tenant, "GET", f"/scoring/models/{model['id']}")["name"] == "Engagement"


@pytest.mark.browser
def test_a_model_a_rule_and_a_preview_in_the_browser(
    app: FastAPI, page: Page, dialect: str
) -> None:
    tenant = make_tenant(app, "评分 Browser Co.")
    who = lead(app, tenant, "browser@acme.cn", name="王小明")
    page.goto("/app/login")
    page.fill('input[name="email"]', tenant.admin.email)
    page.fill('input[name="password"]', PASSWORD)
    page.click('[data-testid="login-submit"]')
    page.goto("/app/scoring")
    page.get_by_test_id("new-model").locator('input[name="name"]').fill("互动分")
    page.click('[data-testid="create-model"]')
    expect(page.get_by_test_id("page-title")).to_contain_text("互动分")
    form = page.get_by_test_id("new-rule-engagement")
    form.locator('input[name="name"]').fill("看定价页")
    form.locator('select[name="event_type"]').select_option("page_view")
    form.locator('textarea[name="where"]').fill("url contains /pricing")
    form.locator('input[name="points"]').fill("10")
    form.locator('input[name="cap"]').fill("25")
    form.locator('input[name="cap_days"]').fill("7")
    form.locator('[data-testid="add-rule"]').click()
    expect(page.get_by_test_id("rule")).to_have_count(1)
    expect(page.get_by_test_id("rule").locator('input[name="name"]')).to_have_value("看定价页")

    page.get_by_test_id("contact-search").fill("王小明")
    page.get_by_test_id("pick-contact").click()
    expect(page.get_by_test_id("preview-score")).to_have_text("25.0")
    expect(page.get_by_test_id("preview-points").locator("tbody tr")).to_have_count(3)
    # the fit rule being drafted counts in the preview, and is not saved
    page.get_by_test_id("preview-contact").fill(who)
    fit = page.get_by_test_id("new-rule-fit")
    fit.locator('input[name="name"]').fill("名字")
    fit.locator('textarea[name="condition"]').fill(
        '{"kind": "field", "field": "name", "op": "eq", "value": "王小明"}'
    )
    fit.locator('input[name="points"]').fill("80")
    fit.locator('[data-testid="preview-draft"]').click()
    expect(page.get_by_test_id("preview-score")).to_have_text("105.0")
    expect(page.get_by_test_id("preview-grade")).to_have_text("A")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-scoring-{dialect}.png"), full_page=True)
    expect(page.get_by_test_id("rule")).to_have_count(1)

    page.goto(f"/app/contacts/{who}")
    expect(page.get_by_test_id("contact-scores")).to_contain_text("互动分")
