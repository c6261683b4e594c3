"""Forms through the API and their public endpoints: definitions, submissions that resolve the
contact, account and consent, refusals that write nothing, honeypot, rate limit, progressive
profiling."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from guanxi.models import Account, Contact, ContactAccount, ContactConsent, Event, FormSubmission
from tests.factories import Tenant, add_fields, make_tenant

SITE = "https://www.example.cn"
FIELDS = [
    {"key": "name", "label": "姓名", "required": True},
    {"key": "email", "label": "邮箱", "type": "email", "required": True},
    {"key": "phone", "label": "手机", "type": "phone"},
    {"key": "company", "label": "公司"},
    {"key": "custom.budget", "label": "预算", "type": "number"},
    {"key": "consent.email", "label": "接收邮件", "type": "consent"},
    {"key": "extra.topic", "label": "主题", "type": "select", "options": ["CRM", "SCRM"]},
]


def make_form(app: FastAPI, **settings: Any) -> tuple[Tenant, TestClient, dict[str, Any]]:
    tenant, client = make_tenant(app), TestClient(app)
    add_fields(
        app, tenant, {"object": "contact", "key": "budget", "label": "预算", "type": "number"}
    )
    client.put("/api/v1/tracking", json={"allowed_origins": [SITE]}, headers=tenant.admin.auth)
    r = client.post(
        "/api/v1/forms",
        json={"name": "白皮书下载", "language": "zh_CN", "fields": FIELDS, "settings": settings},
        headers=tenant.admin.auth,
    )
    assert r.status_code == 201, r.text
    return tenant, client, r.json()


def submit(client: TestClient, form: dict[str, Any], values: dict[str, Any], **extra: Any) -> Any:
    return client.post(
        f"/f/{form['public_key']}",
        content=json.dumps({"values": values, **extra}),
        headers={"Origin": SITE, "Content-Type": "text/plain"},
    )


def counts(tenant: Tenant) -> tuple[int, int, int, int]:
    with tenant.session() as s:
        return tuple(  # type: ignore[return-value]
            s.scalar(
                select(func.count()).select_from(m).where(m.workspace_id == tenant.workspace_id)
            )
            for m in (Contact, Event, FormSubmission, Account)
        )


GOOD = {
    "name": "赵六",
    "email": "zhao@acme.cn",
    "company": "艾克米科技有限公司",
    "custom.budget": "50000",
    "consent.email": True,
    "extra.topic": "SCRM",
}


def test_a_submission_makes_the_contact_account_consent_and_event(app: FastAPI) -> None:
    tenant, client, form = make_form(app)
    r = submit(
        client,
        form,
        GOOD,
        context={"utm_source": "baidu", "utm_medium": "cpc", "url": SITE + "/wp"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["message"] == "谢谢！我们已收到您的回答。"
    with tenant.session() as s:
        contact = s.scalars(
            select(Contact).where(Contact.workspace_id == tenant.workspace_id)
        ).one()
        assert (contact.name, contact.email, contact.custom) == (
            "赵六",
            "zhao@acme.cn",
            {"budget": 50000},
        )
        assert contact.first_touch["utm_source"] == "baidu"  # type: ignore[index]
        account = s.scalars(
            select(Account).where(Account.workspace_id == tenant.workspace_id)
        ).one()
        assert account.name == "艾克米科技有限公司"
        assert s.get(ContactAccount, (tenant.workspace_id, contact.id, account.id)) is not None
        consent = s.get(ContactConsent, (tenant.workspace_id, contact.id, "email"))
        assert consent is not None
        assert consent.status == "opt_in"
        types = s.scalars(select(Event.type).where(Event.workspace_id == tenant.workspace_id))
        assert sorted(types) == ["consent_changed", "form_submit"]
        event = s.scalars(
            select(Event).where(
                Event.workspace_id == tenant.workspace_id, Event.type == "form_submit"
            )
        ).one()
        assert (event.type, event.properties["form_id"], event.properties["utm_medium"]) == (
            "form_submit",
            form["id"],
            "cpc",
        )
    listed = client.get(f"/api/v1/forms/{form['id']}/submissions", headers=tenant.admin.auth).json()
    assert [i["values"]["extra.topic"] for i in listed["items"]] == ["SCRM"]


def test_a_wrong_answer_is_refused_in_the_form_language_and_writes_nothing(app: FastAPI) -> None:
    tenant, client, form = make_form(app)
    for values, words in [
        ({**GOOD, "email": "not-an-email"}, "email"),
        ({**GOOD, "name": ""}, "姓名"),
        ({**GOOD, "custom.budget": "很多"}, "预算"),
        ({**GOOD, "extra.topic": "ERP"}, "主题"),
    ]:
        r = submit(client, form, values)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "invalid_submission"
        assert words in r.json()["error"]["message"]
    assert counts(tenant) == (0, 0, 0, 0)


def test_the_honeypot_and_the_rate_limit(app: FastAPI) -> None:
    tenant, client, form = make_form(app, per_ip_per_hour=2)
    trap = submit(client, form, {**GOOD, "website": "http://spam.example"})
    assert trap.status_code == 200  # looks like a success to the robot
    assert counts(tenant) == (0, 0, 0, 0)
    assert submit(client, form, GOOD).status_code == 200
    assert submit(client, form, {**GOOD, "email": "b@acme.cn"}).status_code == 200
    before = counts(tenant)
    third = submit(client, form, {**GOOD, "email": "c@acme.cn"})
    assert third.status_code == 429
    assert third.json()["error"]["code"] == "too_many_submissions"
    assert counts(tenant) == before


def test_a_known_visitor_is_not_asked_again(app: FastAPI) -> None:
    tenant, client, form = make_form(app)
    aid = "browser-known-1"
    assert submit(client, form, GOOD, anonymous_id=aid).status_code == 200
    asked = client.get(f"/f/{form['public_key']}.json", params={"anonymous_id": aid}).json()
    keys = [f["key"] for f in asked["fields"]]
    assert "email" not in keys
    assert "name" not in keys
    assert "custom.budget" not in keys
    assert "phone" in keys
    assert asked["submit_label"] == "提交"
    fresh = client.get(f"/f/{form['public_key']}.json").json()
    assert [f["key"] for f in fresh["fields"]] == [f["key"] for f in FIELDS]
    # only the new answer is sent; the required known ones are not asked
    again = submit(client, form, {"phone": "13912345678"}, anonymous_id=aid)
    assert again.status_code == 200, again.text
    with tenant.session() as s:
        contact = s.scalars(
            select(Contact).where(Contact.workspace_id == tenant.workspace_id)
        ).one()
    assert (contact.email, contact.phone) == ("zhao@acme.cn", "+8613912345678")


def test_definitions_are_checked_and_archived_forms_refuse(app: FastAPI) -> None:
    tenant, client, form = make_form(app)
    h = tenant.admin.auth
    no_identity = client.post(
        "/api/v1/forms", json={"name": "x", "fields": [{"key": "name", "label": "n"}]}, headers=h
    )
    assert no_identity.status_code == 422
    unknown = client.post(
        "/api/v1/forms",
        json={
            "name": "x",
            "fields": [{"key": "email", "label": "e"}, {"key": "custom.nope", "label": "n"}],
        },
        headers=h,
    )
    assert unknown.json()["error"]["code"] == "unknown_custom_field"
    page = client.get(f"/f/{form['public_key']}")
    assert page.status_code == 200
    assert "白皮书下载" in page.text
    assert "/g.js" in page.text
    client.post(f"/api/v1/forms/{form['id']}/archive", headers=h)
    closed = submit(client, form, GOOD)
    assert closed.status_code == 409
    assert closed.json()["error"]["code"] == "form_closed"
    refused = client.post(
        f"/f/{form['public_key']}",
        content=json.dumps({"values": GOOD}),
        headers={"Origin": "https://evil.example"},
    )
    assert refused.status_code == 403
    assert counts(tenant) == (0, 0, 0, 0)


def test_a_stranger_fills_gaps_only_and_odd_values_are_refused(app: FastAPI) -> None:
    tenant, client, form = make_form(app)
    h = tenant.admin.auth
    carol = client.post(
        "/api/v1/contacts", json={"name": "Carol", "email": "carol@acme.cn"}, headers=h
    ).json()
    r = submit(
        client,
        form,
        {**GOOD, "name": "Mallory", "email": "carol@acme.cn"},
        anonymous_id="stranger-01",
    )
    assert r.status_code == 200, r.text
    got = client.get(f"/api/v1/contacts/{carol['id']}", headers=h).json()["contact"]
    assert got["name"] == "Carol"  # not rewritten by someone else's browser
    assert got["custom"] == {"budget": 50000}  # the gap was filled
    before = counts(tenant)
    for odd in (
        {**GOOD, "email": ["a@acme.cn"]},
        {**GOOD, "company": {"a": 1}},
        {**GOOD, "name": "a\x00b"},
    ):
        bad = submit(client, form, odd)
        assert bad.status_code == 422, bad.text
    assert counts(tenant) == before
    message = submit(client, form, {**GOOD, "email": "nope"}).json()["error"]["message"]
    assert message.startswith("请检查表单：邮箱")  # the form's language and its own label


def test_submissions_need_the_whole_workspace_in_scope(app: FastAPI) -> None:
    from guanxi.auth.permissions import Role

    tenant, client, form = make_form(app)
    submit(client, form, GOOD)
    sdr = tenant.add(Role.sdr)
    r = client.get(f"/api/v1/forms/{form['id']}/submissions", headers=sdr.auth)
    assert r.status_code == 403
