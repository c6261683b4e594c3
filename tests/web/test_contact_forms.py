"""Creating and editing a contact in the console: standard and custom fields, refusals shown
on the form in the page's language, nothing written by a refused form."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.auth.permissions import Role
from tests.factories import TOPICS, add_fields, make_tenant
from tests.web.test_console import console_login, csrf_of


def test_create_then_edit_a_contact_with_custom_fields(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api, h = TestClient(app), tenant.admin.auth
    add_fields(
        app,
        tenant,
        {"object": "contact", "key": "budget", "label": "预算", "type": "number"},
        {"object": "contact", "key": "vip", "label": "VIP", "type": "boolean"},
        TOPICS,
    )
    console = console_login(app, tenant.admin.email, "zh-CN")
    assert 'data-testid="new-contact"' in console.get("/app/contacts").text
    form = console.get("/app/contacts/new").text
    assert "预算" in form
    assert "兴趣" in form
    r = console.post(
        "/app/contacts/new",
        data={
            "csrf_token": csrf_of(form),
            "name": "韩梅梅",
            "phone": "138 0000 0021",
            "gender": "female",
            "custom.budget": "12,000",
            "custom.vip": "true",
            "custom.topics": ["AI", "IoT"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    contact_id = r.headers["location"].rsplit("/", 1)[-1]
    saved = api.get(f"/api/v1/contacts/{contact_id}", headers=h).json()
    assert (saved["contact"]["phone"], saved["contact"]["gender"]) == ("+8613800000021", "female")
    assert saved["contact"]["custom"] == {"budget": 12000, "vip": True, "topics": ["AI", "IoT"]}
    assert [i["kind"] for i in saved["identities"]] == ["phone"]

    edit = console.get(f"/app/contacts/{contact_id}/edit").text
    assert "+8613800000021" in edit
    r = console.post(
        f"/app/contacts/{contact_id}/edit",
        data={
            "csrf_token": csrf_of(edit),
            "name": "韩梅梅",
            "phone": "+8613800000021",
            "email": "han@x.cn",
            "title": "CTO",
            "custom.budget": "",
            "custom.vip": "false",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    saved = api.get(f"/api/v1/contacts/{contact_id}", headers=h).json()
    assert (saved["contact"]["email"], saved["contact"]["title"]) == ("han@x.cn", "CTO")
    assert saved["contact"]["custom"] == {"vip": False}  # emptied fields are cleared
    assert sorted(i["kind"] for i in saved["identities"]) == ["email", "phone"]


def test_a_refused_form_says_why_and_writes_nothing(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api, h = TestClient(app), tenant.admin.auth
    api.post("/api/v1/contacts", json={"name": "甲", "phone": "13800000031"}, headers=h)
    before = api.get("/api/v1/contacts", headers=h).json()["items"]
    console = console_login(app, tenant.admin.email, "zh-CN")
    form = console.get("/app/contacts/new").text
    r = console.post(
        "/app/contacts/new",
        data={"csrf_token": csrf_of(form), "name": "乙", "phone": "12345"},
    )
    assert r.status_code == 422
    assert "not a valid phone number: 12345" in r.text  # the admin reads English
    assert 'value="乙"' in r.text  # what was typed stays on the form
    r = console.post(
        "/app/contacts/new",
        data={"csrf_token": csrf_of(form), "name": "丙", "phone": "13800000031"},
    )
    assert r.status_code == 409  # the phone is someone else's
    assert api.get("/api/v1/contacts", headers=h).json()["items"] == before


def test_a_viewer_gets_no_contact_forms(app: FastAPI) -> None:
    tenant = make_tenant(app)
    viewer = tenant.add(Role.viewer)
    c = TestClient(app).post(
        "/api/v1/contacts", json={"name": "甲", "phone": "13800000041"}, headers=tenant.admin.auth
    )
    console = console_login(app, viewer.email, "en")
    assert 'data-testid="new-contact"' not in console.get("/app/contacts").text
    assert 'data-testid="edit-contact"' not in console.get(f"/app/contacts/{c.json()['id']}").text
    assert console.get("/app/contacts/new").status_code == 403
    assert console.get(f"/app/contacts/{c.json()['id']}/edit").status_code == 403


def test_editing_other_fields_keeps_a_value_that_is_no_longer_an_option(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api, h = TestClient(app), tenant.admin.auth
    tier = api.post(
        "/api/v1/custom-fields",
        json={
            "object": "contact",
            "key": "tier",
            "label": "Tier",
            "type": "select",
            "options": ["gold", "silver"],
        },
        headers=h,
    ).json()
    add_fields(app, tenant, TOPICS)
    contact = api.post(
        "/api/v1/contacts",
        json={"name": "甲", "custom": {"tier": "gold", "topics": ["AI", "IoT"]}},
        headers=h,
    ).json()
    api.patch(
        f"/api/v1/custom-fields/{tier['id']}", json={"options": ["platinum", "silver"]}, headers=h
    )
    console = console_login(app, tenant.admin.email, "en")
    edit = console.get(f"/app/contacts/{contact['id']}/edit").text
    assert "(no longer an option)" in edit
    r = console.post(
        f"/app/contacts/{contact['id']}/edit",
        data={
            "csrf_token": csrf_of(edit),
            "name": "甲",
            "title": "CTO",
            "custom.tier": "gold",  # as the form sends the selected stale option back
            "custom.topics": ["AI", "IoT"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    saved = api.get(f"/api/v1/contacts/{contact['id']}", headers=h).json()["contact"]
    assert saved["title"] == "CTO"
    assert saved["custom"] == {"tier": "gold", "topics": ["AI", "IoT"]}
