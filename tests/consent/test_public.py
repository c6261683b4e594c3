"""The unsubscribe links and the preference centre, as a mail client and a person use them: with
no cookies and no script, RFC 8058's one-click POST unsubscribes, a GET never does, a forged
token finds a 404 page and writes nothing, and the preference centre speaks zh-CN and en."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.consent import links
from guanxi.i18n import gettext
from guanxi.tracking import redirects
from tests.consent.helpers import consents, contact, events, require_opt_in
from tests.factories import Tenant, make_tenant
from tests.tag.client import Api

ONE_CLICK = b"List-Unsubscribe=One-Click"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MESSAGE_ID = 7_000_000_001


def token(app: FastAPI, tenant: Tenant, contact_id: int, channel: str = "email") -> str:
    secret = app.state.settings.secret_key
    return links.unsubscribe_token(secret, tenant.workspace_id, contact_id, channel, MESSAGE_ID)


def written(tenant: Tenant) -> list[object]:
    return events(tenant, "consent_changed", "unsubscribed")


def test_a_get_asks_and_the_one_click_post_unsubscribes(app: FastAPI) -> None:
    tenant = make_tenant(app)
    c = contact(tenant, "订阅者", email="reader@acme.cn")
    url = f"/u/{token(app, tenant, c)}"
    client = TestClient(app)  # no cookies, no script: what a mail client is

    # mail scanners fetch every link: a GET only asks
    for _ in range(2):
        asked = client.get(url, headers={"Accept-Language": "en"})
        assert asked.status_code == 200
        assert asked.headers["cache-control"] == "no-store"
        assert 'data-testid="confirm"' in asked.text
        assert "r***@acme.cn" in asked.text
        assert f'href="/preferences/{url[3:]}"' in asked.text
    assert consents(tenant, c) == {}
    assert written(tenant) == []

    done = client.post(url, content=ONE_CLICK, headers=FORM)
    assert done.status_code == 200
    assert not client.cookies
    assert consents(tenant, c) == {"email": ("opt_out", "list_unsubscribe")}
    expected = [
        (
            c,
            "consent_changed",
            {"channel": "email", "status": "opt_out", "source": "list_unsubscribe"},
            "list_unsubscribe",
        ),
        (
            c,
            "unsubscribed",
            {"channel": "email", "message_id": str(MESSAGE_ID)},
            "list_unsubscribe",
        ),
    ]
    assert written(tenant) == expected
    # a client that sends it again (a retry) changes nothing more
    assert client.post(url, content=ONE_CLICK, headers=FORM).status_code == 200
    assert written(tenant) == expected
    # and the page says so
    assert 'data-testid="already"' in client.get(url).text


def test_the_pages_button_and_a_multipart_one_click(app: FastAPI) -> None:
    tenant = make_tenant(app)
    by_page = contact(tenant, "甲", email="jia@acme.cn")
    by_multipart = contact(tenant, "乙", phone="13800138000")
    client = TestClient(app)
    assert client.post(f"/u/{token(app, tenant, by_page)}", data={}).status_code == 200
    sms = f"/u/{token(app, tenant, by_multipart, 'sms')}"
    done = client.post(sms, files={"List-Unsubscribe": (None, "One-Click")})
    assert done.status_code == 200
    assert "+86138****8000" in done.text
    assert consents(tenant, by_page) == {"email": ("opt_out", "unsubscribe_link")}
    assert consents(tenant, by_multipart) == {"sms": ("opt_out", "list_unsubscribe")}


def _forgeries(app: FastAPI, tenant: Tenant, c: int) -> list[str]:
    secret = app.state.settings.secret_key
    real = token(app, tenant, c)
    body, tag = real.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    other = base64.urlsafe_b64encode(json.dumps({**payload, "c": c + 1}).encode()).decode()
    facts = {"w": tenant.workspace_id, "c": c, "ch": "email"}
    return [
        f"{other.rstrip('=')}.{tag}",  # someone else's contact under this signature
        redirects.sign(secret, facts),  # a tracked-redirect token: another purpose
        links.unsubscribe_token("another-secret", tenant.workspace_id, c, "email", None),
        real[:-2] + ("AA" if not real.endswith("AA") else "BB"),
        "not-a-token",
        redirects.sign(secret, {"w": tenant.workspace_id, "c": "x", "ch": "email"}, "unsubscribe"),
    ]


@pytest.mark.parametrize("path", ["/u/{}", "/preferences/{}"])
def test_a_forged_token_finds_a_404_page_and_writes_nothing(app: FastAPI, path: str) -> None:
    tenant = make_tenant(app)
    c = contact(tenant, "丙", email="bing@acme.cn")
    client = TestClient(app, headers={"Accept-Language": "zh-CN"})
    for forged in _forgeries(app, tenant, c):
        url = path.format(forged)
        for r in (
            client.get(url),
            client.post(url, content=ONE_CLICK, headers=FORM),
            client.post(url, data={"all": "1"}),
        ):
            assert r.status_code == 404, (forged, r.text)
            assert '<html lang="zh-CN">' in r.text
            assert gettext("Link not valid", "zh_CN") in r.text
    assert consents(tenant, c) == {}
    assert written(tenant) == []


def test_a_token_for_a_contact_that_is_gone(app: FastAPI) -> None:
    tenant = make_tenant(app)
    url = f"/u/{token(app, tenant, 12345)}"
    assert TestClient(app).post(url, content=ONE_CLICK, headers=FORM).status_code == 404
    assert written(tenant) == []


def checkboxes(html: str) -> dict[str, bool]:
    found = {}
    for channel in ("email", "sms", "wecom", "wechat", "whatsapp"):
        marker = f'data-testid="channel-{channel}"'
        if marker in html:
            tag = html[: html.index(marker)].rsplit("<input", 1)[1]
            found[channel] = " checked" in tag
    return found


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_preference_centre_round_trip(app: FastAPI, language: str) -> None:
    tenant = make_tenant(app)
    require_opt_in(tenant, "sms")
    c = contact(tenant, "偏好", email="pref@acme.cn", phone="13900139000")
    Api(tenant).post(
        f"/contacts/{c}/identities",
        {"kind": "wecom_external_userid", "namespace": "corp1", "value": "wmEXT1"},
        201,
    )
    lang = "zh_CN" if language == "zh-CN" else "en"
    client = TestClient(app, headers={"Accept-Language": language})
    url = f"/preferences/{token(app, tenant, c)}"

    shown = client.get(url)
    assert shown.status_code == 200
    assert f'<html lang="{language}">' in shown.text
    for text in ("Your preferences", "Save preferences", "Unsubscribe from all marketing"):
        assert gettext(text, lang) in shown.text
    # where the contact can be reached; sms needs an opt-in the contact never gave
    assert checkboxes(shown.text) == {"email": True, "sms": False, "wecom": True}
    assert "p***@acme.cn" in shown.text

    saved = client.post(url, data={"sms": "on", "wecom": "on"})
    assert saved.status_code == 200
    assert gettext("Your preferences are saved.", lang) in saved.text
    assert checkboxes(saved.text) == {"email": False, "sms": True, "wecom": True}
    assert consents(tenant, c) == {
        "email": ("opt_out", "preference_centre"),
        "sms": ("opt_in", "preference_centre"),
    }
    assert [e[2] for e in events(tenant, "unsubscribed")] == [
        {"channel": "email", "message_id": str(MESSAGE_ID)}
    ]

    everything = client.post(url, data={"all": "1", "email": "on"})
    # every channel now holds the person's word, so every channel is offered, all off
    assert checkboxes(everything.text) == {
        ch: False for ch in ("email", "sms", "wecom", "wechat", "whatsapp")
    }
    assert consents(tenant, c) == {
        ch: ("opt_out", "preference_centre")
        for ch in ("email", "sms", "wecom", "wechat", "whatsapp")
    }
    # one unsubscribed event per opt-out: email before, now the four others
    assert sorted(e[2]["channel"] for e in events(tenant, "unsubscribed")) == [
        "email",
        "sms",
        "wechat",
        "wecom",
        "whatsapp",
    ]


def test_a_link_to_a_merged_contact_reaches_the_survivor(app: FastAPI) -> None:
    tenant = make_tenant(app)
    keep = contact(tenant, "留下", email="keep@acme.cn")
    merged = contact(tenant, "并入", email="merged@acme.cn")
    Api(tenant).post(f"/contacts/{keep}/merge", {"other_id": str(merged)})
    url = f"/u/{token(app, tenant, merged)}"
    assert TestClient(app).post(url, content=ONE_CLICK, headers=FORM).status_code == 200
    assert consents(tenant, keep) == {"email": ("opt_out", "list_unsubscribe")}
