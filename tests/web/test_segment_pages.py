"""The console's segment screens: the builder in a real browser (a nested condition, the live
count following it, saving, editing the loaded tree, a refused condition shown in the page), a
static list's members added and removed by hand, and through HTTP the refusals (a viewer, another
workspace, a cycle, a segment in use) that save nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect

from guanxi.auth.permissions import Role
from tests.conftest import ARTIFACTS
from tests.factories import PASSWORD, Tenant, add_fields, make_tenant
from tests.tag.client import Api
from tests.web.test_console import console_login, csrf_of

CITY = {"kind": "field", "field": "city", "op": "eq", "value": "上海"}


def people(api: Api) -> dict[str, str]:
    """甲 (上海, pricing twice), 乙 (上海, once), 丙 (北京, three times, tagged VIP)."""
    found = {}
    for name, city, visits in [("甲", "上海", 2), ("乙", "上海", 1), ("丙", "北京", 3)]:
        found[name] = api.contact(name, city=city)
        events = [
            {"type": "page_view", "contact_id": found[name], "properties": {"url": "/pricing"}}
            for _ in range(visits)
        ]
        api.post("/events/batch", {"events": events})
    vip = api.tag("VIP")
    api.post(f"/contacts/{found['丙']}/tags", {"tag_ids": [vip]})
    return found


def sign_in(page: Page, tenant: Tenant) -> None:
    page.goto("/app/login")
    page.fill('input[name="email"]', tenant.admin.email)
    page.fill('input[name="password"]', PASSWORD)
    page.click('[data-testid="login-submit"]')
    expect(page.get_by_test_id("logout")).to_be_visible()


def members_of(api: Api, segment_id: str) -> list[str]:
    return sorted(c["name"] for c in api.get(f"/segments/{segment_id}/members")["items"])


@pytest.mark.browser
def test_build_a_nested_condition_with_a_live_count_then_save_and_edit(
    app: FastAPI, page: Page, dialect: str
) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    ids = people(api)
    sign_in(page, tenant)
    page.goto("/app/segments")
    page.get_by_test_id("new-segment").click()
    builder = page.get_by_test_id("builder")
    builder.get_by_test_id("add-condition").click()
    builder.get_by_test_id("cond-field").select_option("city")
    builder.get_by_test_id("cond-value").fill("上海")
    count = page.get_by_test_id("preview-count")
    expect(count).to_have_text("2")
    expect(page.get_by_test_id("preview-sample")).to_contain_text("甲")

    # city 上海 and (viewed /pricing at least twice in 30 days or holds VIP)
    builder.get_by_test_id("add-group").first.click()
    inner = builder.locator("fieldset fieldset")
    inner.get_by_test_id("group-kind").select_option("or")
    inner.get_by_test_id("cond-kind").select_option("event")
    inner.get_by_test_id("event-value").fill("2")
    inner.get_by_test_id("add-filter").click()
    inner.get_by_test_id("filter-value").fill("/pricing")
    expect(count).to_have_text("1")
    inner.get_by_test_id("add-condition").click()
    inner.get_by_test_id("cond-kind").nth(1).select_option("tag")
    expect(count).to_have_text("1")
    # not (…): 乙 instead of 甲
    inner.get_by_test_id("negate").first.check()
    expect(page.get_by_test_id("preview-sample")).to_contain_text("乙")
    inner.get_by_test_id("negate").first.uncheck()
    expect(page.get_by_test_id("preview-sample")).to_contain_text("甲")
    page.get_by_test_id("segment-name").fill("上海高意向")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"segment-builder-{dialect}.png"), full_page=True)
    page.get_by_test_id("save-segment").click()

    expect(page.get_by_test_id("page-title")).to_contain_text("上海高意向")
    expect(page.get_by_test_id("member-count")).to_have_text("1")
    expect(page.get_by_test_id("member")).to_have_count(1)
    expect(page.get_by_test_id("member").first).to_contain_text("甲")
    summary = page.get_by_test_id("summary")
    expect(summary).to_contain_text("City is “上海”")
    expect(summary).to_contain_text("did page_view where url contains “/pricing” at least 2 times")
    expect(summary).to_contain_text("holds any of VIP")
    expect(page.get_by_test_id("history-day")).to_have_count(30)
    expect(page.get_by_test_id("lookalikes-section")).not_to_contain_text("…")
    page.screenshot(path=str(ARTIFACTS / f"segment-page-{dialect}.png"), full_page=True)
    [saved] = api.get("/segments")
    assert saved["condition"]["all"][0] == CITY
    assert saved["condition"]["all"][1]["kind"] == "or"
    assert members_of(api, saved["id"]) == ["甲"]

    # the tree comes back into the builder; negating the group moves 甲 out and 乙 in
    page.get_by_test_id("edit-segment").click()
    expect(page.get_by_test_id("preview-count")).to_have_text("1")
    inner = page.get_by_test_id("builder").locator("fieldset fieldset")
    expect(inner.get_by_test_id("event-value")).to_have_value("2")
    inner.get_by_test_id("negate").first.check()
    expect(page.get_by_test_id("preview-sample")).to_contain_text("乙")
    page.get_by_test_id("save-segment").click()
    expect(page.get_by_test_id("member").first).to_contain_text("乙")
    assert members_of(api, saved["id"]) == ["乙"]
    assert api.get(f"/segments/{saved['id']}")["condition"]["all"][1]["kind"] == "not"
    assert ids["乙"] in page.get_by_test_id("member").first.inner_html()


@pytest.mark.browser
def test_a_static_list_takes_members_by_hand(app: FastAPI, page: Page) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    ids = people(api)
    sign_in(page, tenant)
    page.goto("/app/segments")
    page.get_by_test_id("new-list").click()
    expect(page.get_by_test_id("builder")).to_have_count(0)
    page.get_by_test_id("segment-name").fill("展会名单")
    page.get_by_test_id("save-segment").click()
    expect(page.get_by_test_id("page-title")).to_contain_text("展会名单")
    page.get_by_test_id("member-ids").fill(f"{ids['甲']}, {ids['丙']}")
    page.get_by_test_id("add-members-submit").click()
    expect(page.get_by_test_id("member")).to_have_count(2)
    expect(page.get_by_test_id("member-count")).to_have_text("2")
    page.get_by_test_id("member").filter(has_text="甲").get_by_test_id("remove-member").click()
    expect(page.get_by_test_id("member")).to_have_count(1)
    [made] = api.get("/segments")
    assert (made["kind"], members_of(api, made["id"])) == ("static", ["丙"])
    page.get_by_test_id("member-ids").fill("123")
    page.get_by_test_id("add-members-submit").click()
    expect(page.get_by_test_id("form-error")).to_be_visible()
    assert members_of(api, made["id"]) == ["丙"]
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("delete-segment").click()
    expect(page.get_by_test_id("page-title")).to_have_text("Segments")
    assert api.get("/segments") == []


@pytest.mark.browser
def test_an_invalid_condition_is_shown_and_not_saved(app: FastAPI, page: Page) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    add_fields(
        app, tenant, {"object": "contact", "key": "employees", "label": "员工数", "type": "number"}
    )
    sign_in(page, tenant)
    page.goto("/app/segments/new")
    builder = page.get_by_test_id("builder")
    builder.get_by_test_id("add-condition").click()
    builder.get_by_test_id("cond-field").select_option("custom.employees")
    expect(builder.get_by_test_id("cond-value")).to_have_attribute("type", "number")
    expect(page.get_by_test_id("preview-error")).to_contain_text("needs one value")
    page.get_by_test_id("segment-name").fill("坏条件")
    page.get_by_test_id("save-segment").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("custom.employees")
    # the draft comes back as it was, to be mended
    expect(page.get_by_test_id("builder").get_by_test_id("cond-field")).to_have_value(
        "custom.employees"
    )
    assert api.get("/segments") == []
    page.get_by_test_id("builder").get_by_test_id("cond-value").fill("100")
    expect(page.get_by_test_id("preview-count")).to_have_text("0")
    page.get_by_test_id("save-segment").click()
    expect(page.get_by_test_id("page-title")).to_contain_text("坏条件")
    assert [s["name"] for s in api.get("/segments")] == ["坏条件"]


@pytest.mark.browser
def test_every_kind_of_condition_makes_a_tree_the_preview_takes(app: FastAPI, page: Page) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    people(api)
    api.post("/scoring/models", {"name": "线索分"}, 201)
    api.post("/segments", {"name": "上海", "condition": CITY}, 201)
    add_fields(
        app,
        tenant,
        {
            "object": "account",
            "key": "plan",
            "label": "套餐",
            "type": "select",
            "options": ["基础版", "旗舰版"],
        },
    )
    sign_in(page, tenant)
    page.goto("/app/segments/new")
    builder = page.get_by_test_id("builder")
    builder.get_by_test_id("add-condition").click()

    def counted(action: Any, status: int = 200) -> None:
        """Do something to the tree; the live count answers it (or refuses it: 422)."""
        with page.expect_response("**/app/segments/preview") as answer:
            action()
        assert answer.value.status == status, answer.value.text()

    kinds = builder.get_by_test_id("cond-kind")
    for kind in ("account", "event", "event_time", "tag", "score", "grade", "segment", "field"):
        counted(lambda kind=kind: kinds.select_option(kind))
    counted(lambda: builder.get_by_test_id("cond-field").select_option("gender"))
    counted(lambda: builder.get_by_test_id("cond-op").select_option("in"), 422)
    expect(page.get_by_test_id("preview-error")).to_contain_text("gender: in needs a list")
    counted(lambda: builder.get_by_test_id("cond-value").select_option(["female", "male"]))
    counted(lambda: kinds.select_option("account"))
    counted(lambda: builder.get_by_test_id("quantifier").select_option("all"))
    counted(lambda: builder.get_by_test_id("cond-field").select_option("custom.plan"))
    counted(lambda: builder.get_by_test_id("cond-value").select_option("旗舰版"))
    counted(lambda: kinds.select_option("event"))
    counted(lambda: builder.get_by_test_id("event-type").select_option("order"))
    counted(lambda: builder.get_by_test_id("measure").select_option("sum"))
    expect(builder.get_by_test_id("sum-property")).to_have_value("amount")
    counted(lambda: builder.get_by_test_id("window").select_option("range"))
    counted(lambda: builder.get_by_test_id("event-mode").select_option("not"))
    counted(lambda: kinds.select_option("event_time"))
    counted(lambda: builder.get_by_test_id("moment").select_option("at"))
    counted(lambda: builder.get_by_test_id("which").select_option("first"))
    counted(lambda: kinds.select_option("grade"))
    counted(lambda: builder.get_by_test_id("grade-B").check())
    condition = json.loads(page.locator('input[name="condition"]').input_value())
    assert condition["all"][0]["grades"] == ["A", "B"]
    page.get_by_test_id("segment-name").fill("A 和 B 级")
    page.get_by_test_id("save-segment").click()
    expect(page.get_by_test_id("summary")).to_contain_text("grade in 线索分 is one of A, B")


def _post(client: Any, path: str, token: str, **data: str) -> Any:
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def test_viewers_and_other_workspaces_are_refused(app: FastAPI) -> None:
    tenant, other = make_tenant(app), make_tenant(app)
    api = Api(tenant)
    segment = api.post("/segments", {"name": "上海", "condition": CITY}, 201)
    listing = api.post("/segments", {"name": "名单", "kind": "static"}, 201)
    contact = api.contact("甲", city="上海")
    viewer = console_login(app, tenant.add(Role.viewer).email)
    page = viewer.get("/app/segments").text
    assert "上海" in page
    assert 'data-testid="new-segment"' not in page
    shown = viewer.get(f"/app/segments/{segment['id']}")
    assert shown.status_code == 200
    assert 'data-testid="edit-segment"' not in shown.text
    token = csrf_of(viewer.get("/app/notifications").text)
    assert viewer.get("/app/segments/new").status_code == 403
    assert viewer.get(f"/app/segments/{segment['id']}/edit").status_code == 403
    body = json.dumps(CITY)
    refused = [
        _post(viewer, "/app/segments/new", token, name="x", condition=body),
        _post(viewer, f"/app/segments/{segment['id']}/edit", token, name="x", condition=body),
        _post(viewer, f"/app/segments/{segment['id']}/delete", token),
        _post(viewer, f"/app/segments/{segment['id']}/rebuild", token),
        _post(viewer, f"/app/segments/{listing['id']}/members", token, contact_ids=contact),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    assert "<h1>403</h1>" in refused[0].text
    assert [s["name"] for s in api.get("/segments")] == ["上海", "名单"]
    assert members_of(api, listing["id"]) == []

    stranger = console_login(app, other.admin.email)
    token = csrf_of(stranger.get("/app/notifications").text)
    for path in ("", "/edit", "/lookalikes"):
        assert stranger.get(f"/app/segments/{segment['id']}{path}").status_code == 404
    for path, data in [
        ("/edit", {"name": "x", "condition": body}),
        ("/delete", {}),
        ("/rebuild", {}),
        ("/members", {"contact_ids": contact}),
        ("/members/remove", {"contact_ids": contact}),
    ]:
        r = _post(stranger, f"/app/segments/{listing['id']}{path}", token, **data)
        assert r.status_code == 404, path
    assert "上海" not in stranger.get("/app/segments").text
    assert len(api.get("/segments")) == 2


def test_refusals_are_shown_in_the_page_and_save_nothing(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    api.contact("甲", city="上海")
    base = api.post("/segments", {"name": "上海", "condition": CITY}, 201)
    over = {"kind": "segment", "segment": base["id"], "op": "in"}
    top = api.post("/segments", {"name": "上海之上", "condition": over}, 201)
    console = console_login(app, tenant.admin.email)
    token = csrf_of(console.get("/app/segments/new").text)

    preview = _post(console, "/app/segments/preview", token, condition=json.dumps(CITY))
    assert 'data-testid="preview-count">1<' in preview.text
    for bad in ("{not json", json.dumps({"kind": "field", "field": "nope", "op": "eq"})):
        r = _post(console, "/app/segments/preview", token, condition=bad)
        assert r.status_code == 422
        assert 'data-testid="preview-error"' in r.text

    # a cycle: the base segment may not name the one built on it
    cycle = {"kind": "segment", "segment": top["id"], "op": "in"}
    r = _post(
        console,
        f"/app/segments/{base['id']}/edit",
        token,
        name="上海",
        condition=json.dumps(cycle),
    )
    assert r.status_code == 409
    assert "leads back to this segment" in r.text
    assert 'data-testid="form-error"' in r.text
    assert api.get(f"/segments/{base['id']}")["condition"] == CITY
    r = _post(console, f"/app/segments/{base['id']}/delete", token)
    assert r.status_code == 409
    assert "上海之上" in r.text
    assert len(api.get("/segments")) == 2
    # a dynamic segment has no hand-made members; a bad id is refused in the page
    r = _post(console, f"/app/segments/{base['id']}/members", token, contact_ids="1")
    assert r.status_code == 409
    made = _post(console, "/app/segments/new", token, name="名单", kind="static")
    assert made.status_code == 303
    listing = made.headers["location"].rsplit("/", 1)[1]
    r = _post(console, f"/app/segments/{listing}/members", token, contact_ids="abc")
    assert r.status_code == 422
    assert 'data-testid="form-error"' in r.text
    assert members_of(api, listing) == []
    assert console.post(f"/app/segments/{base['id']}/rebuild", data={"csrf_token": token})
    shown = console.get(f"/app/segments/{base['id']}").text
    assert "<svg" in shown
    # the CSV link is the API's, which takes the console's session
    link = f"/api/v1/segments/{base['id']}/lookalikes.csv"
    assert link in shown
    assert console.get(link).text.startswith("\ufeffid,name,email,phone,similarity")
