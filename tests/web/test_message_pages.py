"""The console's messaging screens: the template editor (saved, previewed for a contact, a broken
template refused with its line and nothing written), the message log with reasons in words and
a message's detail, the contact's Messages panel; every screen in both languages, readers who
cannot write, and another workspace's ids; then the editor's preview in a real browser."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect
from sqlalchemy import update

from guanxi.auth.permissions import Role
from guanxi.i18n import gettext
from guanxi.models import Message
from tests.conftest import ARTIFACTS
from tests.factories import PASSWORD, Tenant, make_tenant
from tests.message.support import contact, dispatch, sandbox, send, template
from tests.web.test_console import console_login, csrf_of

WELCOME = {
    "channel": "email",
    "name": "欢迎信",
    "subject": '{{ contact.name | default("朋友") }}，欢迎加入',
    "html": "<p>您好 {{ contact.name }}</p>\n<p>来自 {{ contact.city }}</p>",
}


def _messaging(tenant: Tenant) -> dict[str, Any]:
    """A sandbox email account, a template, a contact with an address and one without, one
    message each: the first sent, the second skipped for want of an address."""
    sandbox(tenant, "email", f"mp-{tenant.workspace_id}")
    welcome = template(tenant, **WELCOME)
    reached = contact(tenant, name="王芳", email="wang@example.cn", city="上海")
    unreachable = contact(tenant, name="李雷", phone="13900139000")
    sent = send(tenant, reached, welcome, marketing=True)
    skipped = send(tenant, unreachable, welcome)
    return {
        "template": welcome,
        "reached": reached,
        "unreachable": unreachable,
        "sent": sent["id"],
        "skipped": skipped["id"],
    }


def test_every_screen_renders_in_both_languages(app: FastAPI) -> None:
    tenant = make_tenant(app)
    ids = _messaging(tenant)
    account = tenant.call("GET", "/channel-accounts")[0]["id"]
    screens = {  # each screen, with words it shows
        "/app/messages": "Messages",
        "/app/messages?status=skipped&channel=email": "The contact has no address on this channel.",
        f"/app/messages/{ids['sent']}": "Attempts",
        "/app/templates": "New template",
        "/app/templates?channel=sms": "No templates yet.",
        "/app/templates/new?channel=sms": "Find a contact to see the message as they would get it.",
        f"/app/templates/{ids['template']}": "Variables",
        "/app/broadcasts": "New broadcast",
        "/app/settings/channels": "Add an account",
        "/app/settings/channels/new?kind=smtp&channel=email": "Connector settings",
        f"/app/settings/channels/{account}": "Mailbox name",
        "/app/settings/channels/policy": "Frequency caps",
        f"/app/contacts/{ids['reached']}/messages": "Opened",
    }
    dispatch(app)
    for language, lang in (("zh_CN", "zh-CN"), ("en", "en")):
        console = console_login(app, tenant.admin.email)
        console.cookies.set("guanxi_lang", language)  # the language picked in the console
        for url, words in screens.items():
            r = console.get(url)
            assert r.status_code == 200, (url, r.text)
            assert gettext(words, language) in r.text, (url, language)
            if "/contacts/" not in url:
                assert f'<html lang="{lang}">' in r.text, url
                assert 'data-testid="nav-templates"' in r.text, url
    # the module's screens are in the navigation
    home = console_login(app, tenant.admin.email).get("/app").text
    assert 'href="/app/messages"' in home


def test_the_template_editor_saves_and_previews_for_a_contact(app: FastAPI) -> None:
    tenant = make_tenant(app)
    sandbox(tenant, "email", f"mp-ed-{tenant.workspace_id}")
    who = contact(tenant, name="王芳", email="wang@example.cn", city="上海")
    console = console_login(app, tenant.admin.email)
    token = csrf_of(console.get("/app/templates/new?channel=email").text)
    made = console.post(
        "/app/templates", data={"csrf_token": token, **WELCOME}, follow_redirects=False
    )
    assert made.status_code == 303, made.text
    path = made.headers["location"].split("?")[0]
    template_id = path.rsplit("/", 1)[1]
    saved = tenant.call("GET", f"/templates/{template_id}")
    assert (saved["name"], saved["subject"], saved["html"], saved["text"]) == (
        "欢迎信",
        WELCOME["subject"],
        WELCOME["html"],
        None,
    )
    editor = console.get(made.headers["location"]).text
    assert 'data-testid="saved"' in editor
    assert "欢迎信" in console.get("/app/templates?channel=email").text
    assert "欢迎信" not in console.get("/app/templates?channel=sms").text

    found = console.get("/app/templates/contacts", params={"q": "王芳"}).text
    assert f'data-pick-contact="{who}"' in found
    shown = console.post(
        "/app/templates/preview",
        data={"csrf_token": token, "template_id": template_id, "contact_id": who, **WELCOME},
    )
    assert shown.status_code == 200, shown.text
    assert re.search(r'data-testid="preview-subject">王芳，欢迎加入<', shown.text)
    frame = re.search(r"<iframe sandbox srcdoc=\"([^\"]*)\"", shown.text)
    assert frame is not None
    assert "您好 王芳" in frame.group(1)
    assert "来自 上海" in frame.group(1)
    assert "&lt;p&gt;" in frame.group(1)  # the HTML is an attribute value, escaped
    assert "您好 王芳" in re.sub(r"\s+", " ", shown.text.split('data-testid="preview-text"')[1])

    # the preview shows the draft on the screen, and writes nothing
    draft = {**WELCOME, "subject": "{{ contact.city }}的新朋友"}
    shown = console.post(
        "/app/templates/preview",
        data={"csrf_token": token, "template_id": template_id, "contact_id": who, **draft},
    )
    assert re.search(r'data-testid="preview-subject">上海的新朋友<', shown.text)
    assert tenant.call("GET", f"/templates/{template_id}")["revision"] == 1
    fresh = console.post(
        "/app/templates/preview", data={"csrf_token": token, "contact_id": who, **draft}
    )
    assert re.search(r'data-testid="preview-subject">上海的新朋友<', fresh.text)
    assert len(tenant.call("GET", "/templates")) == 1
    hint = console.post("/app/templates/preview", data={"csrf_token": token, **draft})
    assert 'data-testid="preview-hint"' in hint.text

    edited = console.post(path, data={"csrf_token": token, **draft}, follow_redirects=False)
    assert edited.status_code == 303
    again = tenant.call("GET", f"/templates/{template_id}")
    assert (again["subject"], again["revision"]) == (draft["subject"], 2)


def test_a_broken_template_shows_its_error_and_writes_nothing(app: FastAPI) -> None:
    tenant = make_tenant(app)
    who = contact(tenant, name="王芳", email="wang@example.cn")
    console = console_login(app, tenant.admin.email)
    token = csrf_of(console.get("/app/templates").text)
    broken = {**WELCOME, "html": "<p>您好</p>\n<p>{{ contact.name </p>"}
    refused = console.post("/app/templates", data={"csrf_token": token, **broken})
    assert refused.status_code == 422
    assert "HTML body, line 2" in refused.text
    assert 'data-error-line="2"' in refused.text
    assert "{{ contact.name &lt;/p&gt;" in refused.text  # what was typed is kept
    assert tenant.call("GET", "/templates") == []

    saved = template(tenant, **WELCOME)
    refused = console.post(f"/app/templates/{saved}", data={"csrf_token": token, **broken})
    assert refused.status_code == 422
    assert "HTML body, line 2" in refused.text
    assert tenant.call("GET", f"/templates/{saved}")["html"] == WELCOME["html"]
    shown = console.post(
        "/app/templates/preview",
        data={"csrf_token": token, "template_id": saved, "contact_id": who, **broken},
    )
    assert shown.status_code == 200  # the preview's answer: htmx swaps it in
    assert 'data-testid="preview-error"' in shown.text
    assert "line 2" in shown.text
    # a template that fails while it is filled in is an error too
    unsafe = {**WELCOME, "subject": "{{ 1 / 0 }}"}
    shown = console.post(
        "/app/templates/preview",
        data={"csrf_token": token, "template_id": saved, "contact_id": who, **unsafe},
    )
    assert 'data-testid="preview-error"' in shown.text
    assert "division by zero" in shown.text
    assert tenant.call("GET", f"/templates/{saved}")["revision"] == 1


def test_deleting_a_template_in_use_is_refused_in_the_page(app: FastAPI) -> None:
    tenant = make_tenant(app)
    welcome = template(tenant, **WELCOME)
    waiting = send(tenant, contact(tenant, email="q@example.cn"), welcome)
    console = console_login(app, tenant.admin.email)
    token = csrf_of(console.get(f"/app/templates/{welcome}").text)
    refused = console.post(f"/app/templates/{welcome}/delete", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "The outbox sends this template" in refused.text
    assert tenant.call("GET", f"/templates/{welcome}")["id"] == welcome
    tenant.call("POST", f"/messages/{waiting['id']}/cancel")
    gone = console.post(
        f"/app/templates/{welcome}/delete", data={"csrf_token": token}, follow_redirects=False
    )
    assert gone.status_code == 303
    assert tenant.call("GET", "/templates") == []


def test_the_log_shows_what_became_of_each_message_in_words(app: FastAPI) -> None:
    tenant = make_tenant(app)
    ids = _messaging(tenant)
    dispatch(app)
    with tenant.session() as s:
        s.execute(
            update(Message)
            .where(Message.workspace_id == tenant.workspace_id, Message.id == int(ids["sent"]))
            .values(opened_at=Message.sent_at)
        )
    console = console_login(app, tenant.admin.email)
    log = console.get("/app/messages").text
    assert log.count('data-testid="message-row"') == 2
    assert "The contact has no address on this channel." in log
    assert "wang@example.cn" in log
    assert "王芳" in log
    assert "欢迎信" in log
    skipped = console.get("/app/messages", params={"status": "skipped"}).text
    assert skipped.count('data-testid="message-row"') == 1
    assert "李雷" in skipped
    assert "No messages." in console.get("/app/messages", params={"channel": "sms"}).text

    detail = console.get(f"/app/messages/{ids['sent']}").text
    assert detail.count('data-testid="attempt"') == 1
    assert ">Sent<" in detail
    detail = console.get(f"/app/messages/{ids['skipped']}").text
    assert "The contact has no address on this channel." in detail
    assert "Not handed to a provider." in detail

    panel = console.get(f"/app/contacts/{ids['reached']}/messages").text
    assert panel.count('data-testid="contact-message"') == 1
    assert "✓" in panel  # opened
    assert f'href="/app/messages/{ids["sent"]}"' in panel
    page = console.get(f"/app/contacts/{ids['reached']}").text
    assert f'hx-get="/app/contacts/{ids["reached"]}/messages"' in page


def test_a_queued_message_is_cancelled_and_a_sent_one_cannot_be(app: FastAPI) -> None:
    tenant = make_tenant(app)
    ids = _messaging(tenant)
    console = console_login(app, tenant.admin.email)
    detail = console.get(f"/app/messages/{ids['sent']}").text
    assert 'data-testid="cancel-message"' in detail
    token = csrf_of(detail)
    done = console.post(
        f"/app/messages/{ids['sent']}/cancel", data={"csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303
    shown = console.get(f"/app/messages/{ids['sent']}").text
    assert "Cancelled by a member." in shown
    assert 'data-testid="cancel-message"' not in shown
    refused = console.post(f"/app/messages/{ids['sent']}/cancel", data={"csrf_token": token})
    assert refused.status_code == 409
    assert 'data-testid="form-error"' in refused.text


def test_viewers_read_but_do_not_write(app: FastAPI) -> None:
    tenant = make_tenant(app)
    ids = _messaging(tenant)
    viewer = tenant.add(Role.viewer)
    console = console_login(app, viewer.email, "zh-CN")
    editor = console.get(f"/app/templates/{ids['template']}")
    assert editor.status_code == 200
    assert 'data-testid="save-template"' not in editor.text
    assert 'data-testid="delete-template"' not in editor.text
    assert 'data-testid="new-template"' not in console.get("/app/templates").text
    assert 'data-testid="cancel-message"' not in console.get(f"/app/messages/{ids['sent']}").text
    token = csrf_of(editor.text)
    changed = {**WELCOME, "name": "改名"}
    refused = console.post(
        f"/app/templates/{ids['template']}", data={"csrf_token": token, **changed}
    )
    assert refused.status_code == 403
    assert console.post("/app/templates", data={"csrf_token": token, **changed}).status_code == 403
    assert console.get("/app/templates/new").status_code == 403
    cancel = console.post(f"/app/messages/{ids['sent']}/cancel", data={"csrf_token": token})
    assert cancel.status_code == 403
    assert tenant.call("GET", f"/templates/{ids['template']}")["name"] == "欢迎信"
    assert tenant.call("GET", f"/messages/{ids['sent']}")["status"] == "queued"
    # a viewer's preview shows the saved template, whatever was posted
    shown = console.post(
        "/app/templates/preview",
        data={
            "csrf_token": token,
            "template_id": ids["template"],
            "contact_id": ids["reached"],
            **changed,
            "subject": "posted",
        },
    )
    assert re.search(r'data-testid="preview-subject">王芳，欢迎加入<', shown.text)


def test_another_workspaces_ids_are_not_found(app: FastAPI) -> None:
    victim = make_tenant(app)
    ids = _messaging(victim)
    intruder = make_tenant(app)
    console = console_login(app, intruder.admin.email)
    token = csrf_of(console.get("/app/templates").text)
    for url in (
        f"/app/templates/{ids['template']}",
        f"/app/messages/{ids['sent']}",
        f"/app/contacts/{ids['reached']}/messages",
        f"/app/messages?contact_id={ids['reached']}",
    ):
        assert console.get(url).status_code == 404, url
    for url, data in (
        (f"/app/templates/{ids['template']}", WELCOME),
        (f"/app/templates/{ids['template']}/delete", {}),
        (f"/app/messages/{ids['sent']}/cancel", {}),
    ):
        assert console.post(url, data={"csrf_token": token, **data}).status_code == 404, url
    shown = console.post(
        "/app/templates/preview",
        data={"csrf_token": token, "template_id": ids["template"], "contact_id": ids["reached"]},
    )
    assert shown.status_code == 404
    assert victim.call("GET", f"/templates/{ids['template']}")["revision"] == 1
    assert victim.call("GET", f"/messages/{ids['sent']}")["status"] == "queued"


@pytest.mark.browser
def test_the_editor_previews_and_a_broadcast_is_sent_in_the_browser(
    app: FastAPI, page: Page, dialect: str
) -> None:
    tenant = make_tenant(app, "模板 Browser Co.")
    who = contact(tenant, name="陈静", email="chen@example.cn", city="杭州")
    page.goto("/app/login")
    page.fill('input[name="email"]', tenant.admin.email)
    page.fill('input[name="password"]', PASSWORD)
    page.click('[data-testid="login-submit"]')
    page.goto("/app/templates")
    page.click('[data-testid="new-template"]')
    page.fill('input[name="name"]', "邀请函")
    page.get_by_test_id("field-subject").fill("{{ contact.name }}，诚邀您参会")
    page.get_by_test_id("field-html").fill("<h1>{{ contact.city }} 站</h1>\n<p>{{ contact.name")
    page.get_by_test_id("contact-search").fill("陈静")
    page.get_by_test_id("pick-contact").click()
    expect(page.get_by_test_id("preview-error")).to_contain_text("line 2")
    page.get_by_test_id("field-html").fill("<h1>{{ contact.city }} 站</h1>")
    # the preview follows the typing, for the contact picked
    expect(page.get_by_test_id("preview-subject")).to_have_text("陈静，诚邀您参会")
    frame = page.frame_locator('[data-testid="preview-html"]')
    expect(frame.locator("h1")).to_have_text("杭州 站")
    assert page.get_by_test_id("preview-html").get_attribute("sandbox") == ""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-template-{dialect}.png"), full_page=True)
    page.click('[data-testid="save-template"]')
    expect(page.get_by_test_id("saved")).to_be_visible()
    [saved] = tenant.call("GET", "/templates")
    assert saved["name"] == "邀请函"

    # a broadcast: created as a draft, sent after a confirmation with the segment's size
    segment = tenant.call("POST", "/segments", json={"name": "杭州客户", "kind": "static"})
    tenant.call("POST", f"/segments/{segment['id']}/members", json={"contact_ids": [who]})
    page.goto("/app/broadcasts")
    form = page.get_by_test_id("new-broadcast")
    form.locator('input[name="name"]').fill("参会邀请")
    form.locator('select[name="template_id"]').select_option(saved["id"])
    form.locator('select[name="segment_id"]').select_option(str(segment["id"]))
    page.click('[data-testid="create-broadcast"]')
    expect(page.get_by_test_id("broadcast-status")).to_have_text("Draft")
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click('[data-testid="send-broadcast"]')
    expect(page.get_by_test_id("broadcast-status")).to_have_text("Draft")  # not sent
    assert asked == ["Send 参会邀请 to the 1 member of 杭州客户 now?"]
    page.once("dialog", lambda dialog: dialog.accept())
    page.click('[data-testid="send-broadcast"]')
    expect(page.get_by_test_id("broadcast-status")).to_have_text("Sending")
    page.screenshot(path=str(ARTIFACTS / f"console-broadcasts-{dialect}.png"), full_page=True)
