"""The console's journey screens: the list and the editor in both languages, a viewer who reads
but changes nothing, saving drafts through the console (their problems answered, a draft that
is not a graph refused and not saved), publishing after the impact review with a mapping,
pause, resume, archive, the dry run, other workspaces' journeys as 404 — and the canvas in a
real browser: add steps, link them by dragging, configure one, save, and read the draft back
through the API."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from guanxi.auth.permissions import Role
from guanxi.kit.clock import utcnow
from tests.conftest import ARTIFACTS
from tests.factories import PASSWORD, Tenant, make_tenant
from tests.journey.test_runner import edge, node
from tests.message.support import contact, run_journeys, sandbox, template
from tests.web.test_console import console_login, csrf_of

DAY = 86400
SIMPLE = {
    "nodes": [
        node("start", "entry", trigger={"type": "manual"}, x=80, y=80),
        node("wait", "wait", mode="duration", seconds=2 * DAY, label="两天后", x=350, y=80),
        node("bye", "exit", x=620, y=80),
    ],
    "edges": [edge("start", "wait"), edge("wait", "bye")],
}


def journey(tenant: Tenant, graph: dict[str, Any] | None = None, name: str = "新客培育") -> str:
    body: dict[str, Any] = {"name": name}
    if graph is not None:
        body["graph"] = graph
    return str(tenant.call("POST", "/journeys", json=body)["id"])


def page_data(html: str) -> Any:
    found = re.search(r'<script type="application/json" id="journey-data">(.*?)</script>', html)
    assert found
    return json.loads(found.group(1))


def save(client: TestClient, journey_id: str, token: str | None, body: Any) -> Any:
    headers = {"X-CSRF-Token": token} if token else {}
    return client.post(f"/app/journeys/{journey_id}/draft", json=body, headers=headers)


def post(client: TestClient, path: str, token: str, **data: str) -> Any:
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def test_the_list_and_the_editor_in_both_languages(app: FastAPI) -> None:
    tenant = make_tenant(app)
    jid = journey(tenant, SIMPLE)
    sms = template(tenant, "sms", "欢迎")
    en = console_login(app, tenant.admin.email)
    listing = en.get("/app/journeys")
    assert listing.status_code == 200
    assert 'data-testid="nav-journeys"' in listing.text
    assert "新客培育" in listing.text
    assert 'data-testid="create-journey"' in listing.text
    assert ">Draft<" in listing.text

    editor = en.get(f"/app/journeys/{jid}")
    assert editor.status_code == 200
    assert 'data-testid="save-journey"' in editor.text
    assert "/static/vendor/x6.min.js" in editor.text
    data = page_data(editor.text)
    assert data["can_write"] is True
    assert [n["id"] for n in data["graph"]["nodes"]] == ["start", "wait", "bye"]
    assert data["problems"] == []
    assert data["stats"] is None
    words = re.search(r'id="journey-words">(.*?)</script>', editor.text, re.S)
    assert words
    assert json.loads(words.group(1))["kinds"]["wait"] == "Wait"
    # record ids above 2^53 reach the page as strings, which JavaScript keeps exact
    assert data["pickers"]["templates"] == [{"id": sms, "name": "欢迎", "channel": "sms"}]

    zh = console_login(app, tenant.admin.email)
    zh.cookies.set("guanxi_lang", "zh_CN")  # the language switch's choice
    listing = zh.get("/app/journeys")
    assert 'lang="zh-CN"' in listing.text
    assert "营销旅程" in listing.text
    assert "名称" in listing.text
    editor = zh.get(f"/app/journeys/{jid}")
    assert editor.status_code == 200
    assert 'lang="zh-CN"' in editor.text
    assert "营销旅程" in editor.text
    assert page_data(editor.text)["graph"]["nodes"][1]["label"] == "两天后"


def test_a_viewer_reads_but_changes_nothing(app: FastAPI) -> None:
    tenant = make_tenant(app)
    jid = journey(tenant, SIMPLE)
    viewer = console_login(app, tenant.add(Role.viewer).email)
    listing = viewer.get("/app/journeys")
    assert listing.status_code == 200
    assert "新客培育" in listing.text
    assert 'data-testid="new-journey"' not in listing.text
    editor = viewer.get(f"/app/journeys/{jid}")
    assert editor.status_code == 200
    assert page_data(editor.text)["can_write"] is False
    for absent in ("save-journey", "add-wait", "publish", "archive"):
        assert f'data-testid="{absent}"' not in editor.text
    token = csrf_of(editor.text)

    refused = save(viewer, jid, token, {"graph": {"nodes": [], "edges": []}})
    assert refused.status_code == 403
    assert "Your role does not allow this action." in refused.text
    assert viewer.get(f"/app/journeys/{jid}/publish").status_code == 403
    for action in ("publish", "pause", "resume", "archive"):
        assert post(viewer, f"/app/journeys/{jid}/{action}", token).status_code == 403, action
    assert post(viewer, "/app/journeys/new", token, name="偷偷").status_code == 403
    after = tenant.call("GET", f"/journeys/{jid}")
    assert (after["status"], after["version"]) == ("draft", None)
    assert [n["id"] for n in after["graph"]["nodes"]] == ["start", "wait", "bye"]
    assert [j["name"] for j in tenant.call("GET", "/journeys")] == ["新客培育"]


def test_saving_a_draft_answers_its_problems_and_refuses_a_broken_one(app: FastAPI) -> None:
    tenant = make_tenant(app)
    welcome = template(tenant, "sms", "欢迎")
    console = console_login(app, tenant.admin.email)
    made = post(
        console, "/app/journeys/new", csrf_of(console.get("/app/journeys").text), name="欢迎"
    )
    assert made.status_code == 303
    jid = made.headers["location"].rsplit("/", 1)[1]
    token = csrf_of(console.get(f"/app/journeys/{jid}").text)

    # the canvas sends record ids as strings; an unlinked step and a missing channel account
    draft = {
        "nodes": [
            node("start", "entry", trigger={"type": "manual"}, x=80, y=80),
            node("hello", "send", channel="sms", template_id=welcome, x=350, y=80),
            node("later", "wait", mode="duration", seconds=DAY, x=350, y=220),
        ],
        "edges": [edge("start", "hello")],
        "settings": {"reentry": {"policy": "after_exit"}},
    }
    r = save(console, jid, token, {"graph": draft, "name": "欢迎短信", "description": "新线索"})
    assert r.status_code == 200, r.text
    assert sorted((p["code"], p["node"]) for p in r.json()["problems"]) == [
        ("no_channel_account", "hello"),
        ("unreachable", "later"),
    ]
    saved = tenant.call("GET", f"/journeys/{jid}")
    assert (saved["name"], saved["description"]) == ("欢迎短信", "新线索")
    assert saved["graph"]["nodes"][1]["template_id"] == int(welcome)
    assert saved["graph"]["nodes"][2]["y"] == 220
    assert saved["graph"]["settings"]["reentry"]["policy"] == "after_exit"
    editor = console.get(f"/app/journeys/{jid}").text
    assert page_data(editor)["graph"]["nodes"][1]["template_id"] == welcome
    assert 'data-node="later"' in editor

    # not a graph: every reason, tied to its step; nothing saved
    broken = {
        "nodes": [
            node("start", "entry", trigger={"type": "manual"}),
            node("hello", "send", channel="sms"),
            node("tagit", "tag", add=[], remove=[]),
        ],
        "edges": [],
    }
    r = save(console, jid, token, {"graph": broken})
    assert r.status_code == 422
    problems = r.json()["problems"]
    assert [(p["code"], p["node"]) for p in problems] == [
        ("invalid_graph", "hello"),
        ("invalid_graph", "tagit"),
    ]
    assert problems[0]["message"].startswith("template_id: ")
    assert "add or remove at least one tag" in problems[1]["message"]
    assert save(console, jid, token, "not an object").status_code == 422
    assert save(console, jid, None, {"graph": broken}).status_code == 403  # no CSRF token
    assert len(tenant.call("GET", f"/journeys/{jid}")["graph"]["nodes"]) == 3


def test_publish_with_a_mapping_then_pause_resume_and_archive(app: FastAPI) -> None:
    tenant = make_tenant(app)
    jid = journey(tenant, SIMPLE)
    person = contact(tenant, name="陈静", phone="13800001111")
    console = console_login(app, tenant.admin.email)
    review = console.get(f"/app/journeys/{jid}/publish")
    assert review.status_code == 200
    assert 'data-testid="no-impact"' in review.text
    token = csrf_of(review.text)
    r = post(console, f"/app/journeys/{jid}/publish", token)
    assert (r.status_code, r.headers["location"]) == (303, f"/app/journeys/{jid}")
    assert tenant.call("GET", f"/journeys/{jid}")["version"] == 1
    tenant.call("POST", f"/journeys/{jid}/enrolments", json={"contact_ids": [person]})
    run_journeys(app, utcnow())  # the contact now waits at "wait"

    # the new version drops the wait: the impact names it, the mapping moves its contact
    shorter = {
        "nodes": [
            SIMPLE["nodes"][0],
            node("soon", "wait", mode="duration", seconds=60),
            SIMPLE["nodes"][2],
        ],
        "edges": [edge("start", "soon"), edge("soon", "bye")],
    }
    assert save(console, jid, token, {"graph": shorter}).status_code == 200
    review = console.get(f"/app/journeys/{jid}/publish").text
    assert 'data-testid="impact-row" class="journey-gone"' in review
    assert 'name="map:1:wait"' in review
    r = post(console, f"/app/journeys/{jid}/publish", token, **{"map:1:wait": "soon"})
    assert r.status_code == 303
    [moved] = tenant.call("GET", f"/journeys/{jid}/enrolments")["items"]
    assert (moved["version"], moved["node_id"]) == (2, "soon")
    editor = console.get(f"/app/journeys/{jid}").text
    stats = page_data(editor)["stats"]
    assert (stats["enrolled"], stats["running"]) == (1, 1)
    assert 'data-testid="journey-stats"' in editor

    # a mapping to a step the draft lacks is refused in the page
    r = post(console, f"/app/journeys/{jid}/publish", token, **{"map:2:soon": "nowhere"})
    assert r.status_code == 409
    assert 'data-testid="form-error"' in r.text
    assert tenant.call("GET", f"/journeys/{jid}")["version"] == 2

    assert post(console, f"/app/journeys/{jid}/pause", token).status_code == 303
    assert tenant.call("GET", f"/journeys/{jid}")["status"] == "paused"
    assert 'data-testid="resume"' in console.get(f"/app/journeys/{jid}").text
    assert post(console, f"/app/journeys/{jid}/resume", token).status_code == 303
    assert tenant.call("GET", f"/journeys/{jid}")["status"] == "active"
    assert post(console, f"/app/journeys/{jid}/archive", token).status_code == 303
    archived = tenant.call("GET", f"/journeys/{jid}")
    assert archived["status"] == "archived"
    editor = console.get(f"/app/journeys/{jid}").text
    assert page_data(editor)["can_write"] is False
    refused = save(console, jid, token, {"graph": shorter})
    assert refused.status_code == 409
    assert "The journey is archived and cannot change." in refused.text
    r = post(console, f"/app/journeys/{jid}/resume", token)
    assert r.status_code == 409
    assert 'data-testid="form-error"' in r.text


def test_a_draft_journey_cannot_be_paused_and_a_bad_one_not_published(app: FastAPI) -> None:
    tenant = make_tenant(app)
    jid = journey(
        tenant,
        {
            "nodes": [node("start", "entry", trigger={"type": "manual"}), node("lost", "exit")],
            "edges": [],
        },
    )
    console = console_login(app, tenant.admin.email)
    token = csrf_of(console.get("/app/journeys").text)
    r = post(console, f"/app/journeys/{jid}/pause", token)
    assert r.status_code == 409
    assert "not running" in r.text
    review = console.get(f"/app/journeys/{jid}/publish").text
    assert "Nothing leads to lost from the entry." in review
    assert 'data-testid="confirm-publish" disabled' in review
    r = post(console, f"/app/journeys/{jid}/publish", token)
    assert r.status_code == 422
    assert tenant.call("GET", f"/journeys/{jid}")["status"] == "draft"


def test_the_dry_run_walks_a_contact_through_the_draft(app: FastAPI) -> None:
    tenant = make_tenant(app)
    sandbox(tenant, "sms", f"jp-{tenant.workspace_id}")
    sms = template(tenant, "sms", "欢迎")
    graph = {
        "nodes": [
            node("start", "entry", trigger={"type": "manual"}),
            node("hello", "send", channel="sms", template_id=int(sms), label="欢迎短信"),
            node("wait", "wait", mode="duration", seconds=2 * DAY),
            node("bye", "exit"),
        ],
        "edges": [edge("start", "hello"), edge("hello", "wait"), edge("wait", "bye")],
    }
    jid = journey(tenant, graph)
    person = contact(tenant, name="韩梅梅", phone="13800002222")
    console = console_login(app, tenant.admin.email)
    token = csrf_of(console.get(f"/app/journeys/{jid}").text)
    found = console.get(f"/app/journeys/{jid}/contacts", params={"q": "韩"})
    assert f'<option value="{person}">韩梅梅' in found.text
    r = console.post(
        f"/app/journeys/{jid}/dry-run",
        data={"contact_id": person, "days": "30", "source": "draft", "q": ""},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 200, r.text
    assert re.findall(r'data-testid="dry-run-step" data-node="(\w+)"', r.text) == [
        "start",
        "hello",
        "wait",
        "wait",
        "bye",
    ]
    assert "欢迎短信" in r.text
    r = console.post(
        f"/app/journeys/{jid}/dry-run", data={"contact_id": "nope"}, headers={"X-CSRF-Token": token}
    )
    assert r.status_code == 422
    assert 'data-testid="form-error"' not in r.text
    assert "contact_id" in r.text
    assert tenant.call("GET", f"/journeys/{jid}/enrolments")["items"] == []


def test_other_workspaces_journeys_are_not_found(app: FastAPI) -> None:
    tenant, other = make_tenant(app), make_tenant(app)
    jid = journey(tenant, SIMPLE)
    person = contact(tenant, name="陈静", phone="13800001111")
    stranger = console_login(app, other.admin.email)
    token = csrf_of(stranger.get("/app/journeys").text)
    assert "新客培育" not in stranger.get("/app/journeys").text
    for path in ("", "/publish", "/contacts"):
        assert stranger.get(f"/app/journeys/{jid}{path}").status_code == 404, path
    assert save(stranger, jid, token, {"graph": SIMPLE}).status_code == 404
    for action in ("publish", "pause", "resume", "archive"):
        assert post(stranger, f"/app/journeys/{jid}/{action}", token).status_code == 404, action
    r = post(stranger, f"/app/journeys/{jid}/dry-run", token, contact_id=person)
    assert r.status_code == 404
    after = tenant.call("GET", f"/journeys/{jid}")
    assert (after["status"], len(after["graph"]["nodes"])) == ("draft", 3)


def sign_in(page: Page, tenant: Tenant) -> None:
    page.goto("/app/login")
    page.fill('input[name="email"]', tenant.admin.email)
    page.fill('input[name="password"]', PASSWORD)
    page.click('[data-testid="login-submit"]')
    expect(page.get_by_test_id("logout")).to_be_visible()


def drag(page: Page, source: str, target: str) -> None:
    """Press on ``source``, move in steps (as a hand would) and let go on ``target``."""
    start = page.locator(source).bounding_box()
    end = page.locator(target).bounding_box()
    assert start
    assert end
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(
            start["x"] + (end["x"] - start["x"]) * i / 10 + end["width"] / 2,
            start["y"] + (end["y"] - start["y"]) * i / 10 + end["height"] / 2,
        )
    page.mouse.up()


@pytest.mark.browser
def test_add_link_configure_and_save_on_the_canvas(app: FastAPI, page: Page, dialect: str) -> None:
    tenant = make_tenant(app)
    email = template(tenant, "email", "欢迎邮件", subject="欢迎", html="<p>欢迎</p>")
    jid = journey(tenant)
    person = contact(tenant, name="韩梅梅", email="meimei@example.test")
    sign_in(page, tenant)
    page.goto("/app/journeys")
    page.get_by_role("link", name="新客培育").click()
    expect(page.locator('[data-cell-id="start"]')).to_be_visible()

    page.get_by_test_id("add-wait").click()
    expect(page.locator('[data-cell-id="wait1"]')).to_be_visible()
    expect(page.get_by_test_id("node-id")).to_have_text("wait1")  # a new step is selected
    page.get_by_test_id("node-label").fill("等两天")
    page.get_by_test_id("wait-seconds").fill("2")
    drag(page, '[data-cell-id="start"] [port="out"]', '[data-cell-id="wait1"] [port="#in"]')

    page.get_by_test_id("add-send").click()
    expect(page.locator('[data-cell-id="send1"]')).to_be_visible()
    expect(page.get_by_test_id("send-template")).to_have_value(email)
    drag(page, '[data-cell-id="wait1"] [port="out"]', '[data-cell-id="send1"] [port="#in"]')
    expect(page.get_by_test_id("save-state")).to_have_text("Unsaved changes")
    page.get_by_test_id("save-journey").click()
    # no email account yet: saved, with that problem listed and the step marked
    expect(page.get_by_test_id("save-state")).to_contain_text("Saved, with 1 problem")
    expect(page.get_by_test_id("problems")).to_contain_text("No channel account sends email yet.")
    page.screenshot(path=str(ARTIFACTS / f"journey-editor-{dialect}.png"), full_page=True)

    saved = tenant.call("GET", f"/journeys/{jid}")["graph"]
    by_id = {n["id"]: n for n in saved["nodes"]}
    assert sorted(by_id) == ["send1", "start", "wait1"]
    assert (by_id["wait1"]["seconds"], by_id["wait1"]["label"]) == (2 * DAY, "等两天")
    assert (by_id["send1"]["channel"], by_id["send1"]["template_id"]) == ("email", int(email))
    assert all(isinstance(n["x"], float | int) for n in saved["nodes"])
    assert sorted((e["source"], e["port"], e["target"]) for e in saved["edges"]) == [
        ("start", "out", "wait1"),
        ("wait1", "out", "send1"),
    ]

    # the saved draft comes back on the canvas after a reload, links and all
    page.reload()
    expect(page.locator('[data-cell-id="send1"]')).to_be_visible()
    assert page.evaluate("document.querySelectorAll('.x6-edge').length") == 2
    page.locator('[data-cell-id="wait1"] rect').first.click()
    expect(page.get_by_test_id("node-label")).to_have_value("等两天")

    # with an email account the problem goes; "publish" saves a change first, then reviews
    sandbox(tenant, "email", f"jp-{tenant.workspace_id}")
    page.get_by_test_id("node-label").fill("等两天再说")
    page.get_by_test_id("publish").click()
    expect(page.get_by_test_id("page-title")).to_have_text("Publish 新客培育")
    expect(page.get_by_test_id("no-impact")).to_be_visible()
    page.get_by_test_id("confirm-publish").click()
    expect(page.get_by_test_id("journey-version")).to_have_text("Version 1 is live")
    expect(page.locator('[data-cell-id="wait1"]')).to_contain_text("0 entered · 0 waiting")
    published = tenant.call("GET", f"/journeys/{jid}/versions")
    assert [n.get("label") for n in published[0]["graph"]["nodes"]] == [None, "等两天再说", None]

    # the dry run: the contact found by name, the steps listed; then a refusal shown in place
    with page.expect_response(lambda r: "/contacts?q=" in r.url and "%E9%9F%A9" in r.url):
        page.get_by_test_id("dry-run-search").fill("韩梅")
    expect(page.get_by_test_id("dry-run-contact")).to_have_value(person)
    page.get_by_test_id("dry-run-go").click()
    steps = page.get_by_test_id("dry-run-step")
    expect(steps.first).to_have_attribute("data-node", "start")
    assert steps.evaluate_all("rows => rows.map(r => r.dataset.node)")[-1] == "send1"
    page.locator('select[name="source"]').select_option("published")
    page.evaluate("document.querySelector('#dry-run-contact').options[0].value = '0'")
    page.get_by_test_id("dry-run-go").click()
    expect(page.get_by_test_id("dry-run-result")).to_contain_text("contact_id")
