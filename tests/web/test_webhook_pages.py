"""The console's webhook screens: endpoints with their status, creating one (its secret shown
once), editing, a test ping and the delivery log with attempts, sending again, turning off and
deleting, in zh-CN and en; refusals that save nothing; readers; other workspaces' ids."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from guanxi.app import create_app
from guanxi.auth.permissions import Role
from guanxi.config import Settings
from guanxi.i18n import gettext, ngettext
from guanxi.kit.clock import utcnow
from guanxi.webhook import dispatch
from tests.factories import make_tenant
from tests.tag.client import Api
from tests.web.test_console import console_login, csrf_of
from tests.webhook.helpers import LOOPBACK, add_endpoint, deliver, deliveries
from tests.webhook.receiver import Receiver


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[FastAPI]:
    """An installation whose webhooks may reach the receiver on this machine."""
    application = create_app(settings.model_copy(update={"webhook_allowed_networks": LOOPBACK}))
    yield application
    application.state.engine.dispose()


def test_an_administrator_manages_an_endpoint_and_reads_its_log(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    console = console_login(app, tenant.admin.email)
    console.cookies.set("guanxi_lang", "zh_CN")  # the language picked in the console
    listing = console.get("/app/webhooks")
    assert listing.status_code == 200
    assert '<html lang="zh-CN">' in listing.text
    assert gettext("Webhooks", "zh_CN") in listing.text
    assert gettext("Add an endpoint", "zh_CN") in listing.text
    token = csrf_of(listing.text)
    with Receiver() as hook:
        created = console.post(
            "/app/webhooks",
            data={
                "csrf_token": token,
                "url": hook.url,
                "description": "订单系统",
                "event_types": ["form_submit", "page_view"],
            },
        )
        assert created.status_code == 201
        secret = re.search(r'data-testid="new-secret">.*?<code>([^<]+)</code>', created.text, re.S)
        assert secret is not None
        [endpoint] = api.get("/webhooks")["items"]
        assert (endpoint["description"], endpoint["event_types"]) == (
            "订单系统",
            ["form_submit", "page_view"],
        )
        page = f"/app/webhooks/{endpoint['id']}"
        assert 'data-testid="new-secret"' not in console.get(page).text  # shown once
        assert hook.url in console.get("/app/webhooks").text

        saved = console.post(
            page,
            data={"csrf_token": token, "url": hook.url, "event_types": ["*"]},
            follow_redirects=False,
        )
        assert (saved.status_code, saved.headers["location"]) == (303, page)
        assert api.get(f"/webhooks/{endpoint['id']}")["event_types"] == ["*"]

        hook.answer(500)
        console.post(f"{page}/test", data={"csrf_token": token})
        deliver(app, utcnow())
        [got] = hook.received
        assert got.verifies(secret.group(1), int(utcnow().timestamp()))
        failing = console.get(page).text
        assert 'data-status="failing"' in failing
        assert (
            ngettext(
                "{n} failed attempt in a row", "{n} failed attempts in a row", 1, "zh_CN"
            ).format(n=1)
            in failing
        )
        assert re.search(r'data-testid="attempt">[^<]*· 500 · HTTP 500 · \d+ ms', failing)
        assert 'data-status="failing"' in console.get("/app/webhooks").text

        [delivery] = deliveries(tenant)
        console.post(f"/app/webhook-deliveries/{delivery.id}/redeliver", data={"csrf_token": token})
        deliver(app, utcnow())
        assert [r.delivery for r in hook.received] == [str(delivery.id)] * 2
        log = console.get(page).text
        assert re.search(r'data-testid="delivery-row" data-status="delivered"', log)
        assert re.search(r'data-testid="attempt">[^<]*· 200 · \d+ ms', log)
        assert len(re.findall(r'data-testid="attempt"', log)) == 2
        assert gettext("Delivered", "zh_CN") in log
        assert 'data-status="enabled"' in log

        rotated = console.post(f"{page}/rotate", data={"csrf_token": token})
        assert 'data-testid="new-secret"' in rotated.text
        assert secret.group(1) not in rotated.text

    console.post(f"{page}/enabled", data={"csrf_token": token, "enabled": "0"})
    off = console.get(page).text
    assert 'data-status="disabled"' in off
    assert 'data-testid="disabled-reason"' in off
    assert api.get(f"/webhooks/{endpoint['id']}")["disabled_reason"] == "manual"
    console.post(f"{page}/enabled", data={"csrf_token": token, "enabled": "1"})
    assert api.get(f"/webhooks/{endpoint['id']}")["status"] == "enabled"
    gone = console.post(f"{page}/delete", data={"csrf_token": token}, follow_redirects=False)
    assert gone.headers["location"] == "/app/webhooks"
    assert api.get("/webhooks")["items"] == []


def test_refused_forms_say_why_and_save_nothing(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    console = console_login(app, tenant.admin.email, "en")
    listing = console.get("/app/webhooks").text
    assert '<html lang="en">' in listing
    assert "No webhooks yet." in listing
    token = csrf_of(listing)
    bad_url = console.post(
        "/app/webhooks",
        data={"csrf_token": token, "url": "ftp://example.com", "event_types": ["note"]},
    )
    assert bad_url.status_code == 422
    assert 'data-testid="form-error"' in bad_url.text
    assert "give an http:// or https:// URL with a host" in bad_url.text
    unknown = console.post(
        "/app/webhooks",
        data={"csrf_token": token, "url": "https://example.com/h", "event_types": ["nope"]},
    )
    assert unknown.status_code == 422
    assert "Unknown event types: nope." in unknown.text
    assert api.get("/webhooks")["items"] == []

    endpoint = add_endpoint(api, "https://example.com/h", "note")
    page = f"/app/webhooks/{endpoint['id']}"
    console.post(f"{page}/enabled", data={"csrf_token": token, "enabled": "0"})
    refused = console.post(f"{page}/test", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "The endpoint is disabled: turn it on first." in refused.text
    assert deliveries(tenant) == []
    emptied = console.post(page, data={"csrf_token": token, "url": "https://example.com/h"})
    assert emptied.status_code == 422
    assert api.get(f"/webhooks/{endpoint['id']}")["event_types"] == ["note"]


def test_a_reader_sees_webhooks_but_changes_nothing(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    endpoint = add_endpoint(api, "https://example.com/h", "note")
    viewer = tenant.add(Role.viewer)
    console = console_login(app, viewer.email)
    listing = console.get("/app/webhooks").text
    assert "https://example.com/h" in listing
    assert 'data-testid="new-endpoint"' not in listing
    detail = console.get(f"/app/webhooks/{endpoint['id']}").text
    assert 'data-testid="endpoint-form"' not in detail
    assert 'data-testid="send-test"' not in detail
    token = csrf_of(console.get("/app/notifications").text)
    refused = console.post(
        "/app/webhooks",
        data={"csrf_token": token, "url": "https://example.com/x", "event_types": ["*"]},
    )
    assert refused.status_code == 403
    turned = console.post(
        f"/app/webhooks/{endpoint['id']}/enabled", data={"csrf_token": token, "enabled": "0"}
    )
    assert turned.status_code == 403
    assert [e["enabled"] for e in api.get("/webhooks")["items"]] == [True]


def test_other_workspaces_endpoints_are_not_found(app: FastAPI) -> None:
    victim, attacker = make_tenant(app, "Victim"), make_tenant(app, "Attacker")
    endpoint = add_endpoint(Api(victim), "https://example.com/h", "note")
    console = console_login(app, attacker.admin.email)
    token = csrf_of(console.get("/app/webhooks").text)
    page = f"/app/webhooks/{endpoint['id']}"
    assert console.get(page).status_code == 404
    for action in ("", "/enabled", "/test", "/rotate", "/delete"):
        data = {"csrf_token": token, "url": "https://evil.example/h", "event_types": ["*"]}
        assert console.post(page + action, data=data).status_code == 404, action
    theirs = Api(victim).get(f"/webhooks/{endpoint['id']}")
    assert (theirs["url"], theirs["enabled"]) == ("https://example.com/h", True)
    assert deliveries(victim) == []


def test_a_delivery_refused_for_its_address_is_explained_in_both_languages(app: FastAPI) -> None:
    tenant = make_tenant(app)
    endpoint = add_endpoint(Api(tenant), "http://localhost:9/hook")
    console = console_login(app, tenant.admin.email)
    page = f"/app/webhooks/{endpoint['id']}"
    console.post(f"{page}/test", data={"csrf_token": csrf_of(console.get(page).text)})
    deliver(app, utcnow(), allowed=[])  # an installation that allows no private network
    [refused] = deliveries(tenant, endpoint["id"])
    assert refused.last_error is not None
    assert refused.last_error.startswith(dispatch.REFUSED)
    detail = refused.last_error[len(dispatch.REFUSED) :]
    said = (
        "Not sent: webhooks may not reach this address ({detail}). An operator can allow a "
        "network with GUANXI_WEBHOOK_ALLOWED_NETWORKS."
    )
    for language in ("zh_CN", "en"):
        console.cookies.set("guanxi_lang", language)
        shown = html.unescape(console.get(page).text)
        assert gettext(said, language).format(detail=detail) in shown
