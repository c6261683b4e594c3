"""Where webhooks may post: addresses judged one by one, URLs refused when an endpoint is saved
(and nothing written), deliveries refused when their host resolves to an address webhooks may
not reach (and nothing sent), the networks an installation allows, and requests pinned to the
address checked."""

from __future__ import annotations

import asyncio
import socket
from ipaddress import ip_address, ip_network

import httpx
import pytest
from fastapi import FastAPI

from guanxi.kit.clock import utcnow
from guanxi.webhook import targets
from tests.factories import make_tenant
from tests.tag.client import Api
from tests.webhook.helpers import (
    LOOPBACK,
    add_endpoint,
    attempts,
    deliver,
    deliveries,
    event,
    fan_out,
)
from tests.webhook.receiver import Receiver


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("0.0.0.0", "unspecified"),  # noqa: S104 - judged, not bound
        ("::", "unspecified"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("fec0::1", "private"),
        ("240.0.0.1", "private"),
        ("::2", "reserved"),
        ("100.64.0.1", "not public"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a9fe:a9fe", "link-local"),
        ("8.8.8.8", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_addresses_that_are_not_public_are_refused(address: str, kind: str | None) -> None:
    assert targets.kind_of(ip_address(address)) == kind


def test_allowed_networks_open_only_themselves() -> None:
    allowed = [ip_network("10.20.0.0/16"), ip_network("::1/128")]
    ok = [ip_address(a) for a in ("10.20.3.4", "::1", "::ffff:10.20.0.1", "1.1.1.1")]
    assert targets.refusal("erp.corp", ok, allowed) is None
    found = targets.refusal("erp.corp", [ip_address("10.20.0.9"), ip_address("10.21.0.1")], allowed)
    assert found == targets.Refusal("erp.corp", ip_address("10.21.0.1"), "private")
    assert str(found) == "erp.corp (10.21.0.1): private address, which webhooks may not reach"
    assert targets.refusal("x", [ip_address("127.0.0.1")], allowed) is not None


NOT_ALLOWED = [
    ("http://127.0.0.1:8080/hook", "127.0.0.1", "loopback"),
    ("http://localhost/hook", "localhost", "loopback"),
    ("http://127.1/hook", "127.1", "loopback"),
    ("http://2130706433/hook", "2130706433", "loopback"),
    ("http://0x7f.0.0.1/hook", "0x7f.0.0.1", "loopback"),
    ("http://[::1]:9000/hook", "::1", "loopback"),
    ("http://[::ffff:127.0.0.1]/hook", "::ffff:127.0.0.1", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local"),
    ("http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe", "link-local"),
    ("https://10.0.0.8/hook", "10.0.0.8", "private"),
    ("https://192.168.31.1/hook", "192.168.31.1", "private"),
    ("http://100.64.1.1/hook", "100.64.1.1", "not public"),
    ("http://0.0.0.0:8000/hook", "0.0.0.0", "unspecified"),  # noqa: S104 - refused, not bound
    ("http://224.0.0.251/hook", "224.0.0.251", "multicast"),
]


def test_urls_webhooks_may_not_reach_are_refused_and_nothing_is_written(
    strict_app: FastAPI,
) -> None:
    api = Api(make_tenant(strict_app))
    for url, host, kind in NOT_ALLOWED:
        refused = api.post("/webhooks", {"url": url, "event_types": ["*"]}, 422)["error"]
        assert (refused["code"], refused["details"]["host"]) == ("webhook_url_not_allowed", host)
        assert refused["details"]["kind"] == kind, url
    assert api.get("/webhooks")["items"] == []
    refused = api.post("/webhooks", {"url": "http://127.0.0.1/h", "event_types": ["*"]}, 422)
    assert refused["error"]["message"] == (
        "Webhooks cannot be sent to 127.0.0.1: 127.0.0.1 is a loopback address, this server itself."
    )
    assert refused["error"]["details"] == {
        "host": "127.0.0.1",
        "address": "127.0.0.1",
        "kind": "loopback",
    }
    with_password = api.post(
        "/webhooks", {"url": "https://bot:s3cret@hooks.example.com/h", "event_types": ["*"]}, 422
    )["error"]
    assert with_password["code"] == "webhook_url_not_allowed"
    assert "user name or password" in with_password["message"]
    assert api.get("/webhooks")["items"] == []


def test_a_url_changed_to_one_webhooks_may_not_reach_is_refused(strict_app: FastAPI) -> None:
    api = Api(make_tenant(strict_app))
    # a name that does not resolve yet is taken: every delivery looks it up again
    endpoint = add_endpoint(api, "https://hooks.guanxi.invalid/in", "note")
    for url in ("http://localhost:8000/h", "http://169.254.169.254/"):
        refused = api.patch(f"/webhooks/{endpoint['id']}", {"url": url}, 422)
        assert refused["error"]["code"] == "webhook_url_not_allowed"
    assert api.get(f"/webhooks/{endpoint['id']}")["url"] == "https://hooks.guanxi.invalid/in"


def test_allowed_networks_are_reachable_and_only_they(app: FastAPI, hook: Receiver) -> None:
    assert app.state.settings.webhook_allowed_networks == LOOPBACK
    api = Api(make_tenant(app))
    add_endpoint(api, hook.url)
    add_endpoint(api, "http://[::1]:9/h")
    for url in ("http://169.254.169.254/", "http://10.0.0.8/h"):
        refused = api.post("/webhooks", {"url": url, "event_types": ["*"]}, 422)
        assert refused["error"]["code"] == "webhook_url_not_allowed"
    assert len(api.get("/webhooks")["items"]) == 2


def test_a_delivery_to_an_address_no_longer_allowed_sends_nothing(
    app: FastAPI, hook: Receiver
) -> None:
    """Saved while the installation allowed this machine; delivered once it does not (as when
    a name is pointed at 127.0.0.1 after it was saved): the attempt fails and says why."""
    tenant = make_tenant(app)
    api = Api(tenant)
    by_name = hook.url.replace("127.0.0.1", "localhost")
    endpoint = add_endpoint(api, by_name, "note")
    now = utcnow()
    fan_out(tenant, [event(api.contact("林峰"), "note", now, text="x")], now)
    deliver(app, now, allowed=[])
    assert hook.received == []
    [d] = deliveries(tenant, endpoint["id"])
    assert (d.status, d.attempts, d.last_status) == ("pending", 1, None)
    assert d.last_error is not None
    assert d.last_error.startswith("not sent: localhost (")
    assert d.last_error.endswith("): loopback address, which webhooks may not reach")
    [attempt] = attempts(tenant, d.id)
    assert (attempt.status_code, attempt.error, attempt.response) == (None, d.last_error, None)
    assert api.get(f"/webhooks/{endpoint['id']}")["failures"] == 1

    deliver(app, d.due_at, allowed=[ip_network("::1/128")])  # 127.0.0.1 still not
    assert hook.received == []
    assert [a.status_code for a in attempts(tenant, d.id)] == [None, None]


def test_a_host_that_does_not_resolve_fails_the_attempt(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    endpoint = add_endpoint(api, "https://hooks.guanxi.invalid/in", "note")
    now = utcnow()
    fan_out(tenant, [event(api.contact("高远"), "note", now, text="x")], now)
    deliver(app, now)
    [d] = deliveries(tenant, endpoint["id"])
    assert (d.status, d.last_status) == ("pending", None)
    assert d.last_error is not None
    assert d.last_error.startswith("cannot resolve the host: ")


def test_a_request_goes_to_the_address_checked_under_its_own_name() -> None:
    first = socket.getaddrinfo("localhost", 8443, type=socket.SOCK_STREAM)[0][4][0]
    pinned = asyncio.run(targets.pin("https://localhost:8443/in?x=1", LOOPBACK))
    assert pinned == targets.Pinned(
        "localhost",
        httpx.URL("https://localhost:8443/in?x=1").copy_with(host=first),
        {"Host": "localhost:8443"},
        {"sni_hostname": "localhost"},
    )
    plain = asyncio.run(targets.pin("http://127.0.0.1/in", LOOPBACK))
    assert (str(plain.url), plain.headers, plain.extensions) == (
        "http://127.0.0.1/in",
        {"Host": "127.0.0.1"},
        {},
    )
    with pytest.raises(targets.Refused):
        asyncio.run(targets.pin("http://localhost/in", []))


def test_a_delivery_keeps_its_host_name(app: FastAPI, hook: Receiver) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    add_endpoint(api, hook.url, "note")
    now = utcnow()
    fan_out(tenant, [event(api.contact("钱多"), "note", now, text="x")], now)
    deliver(app, now)
    [got] = hook.received
    assert got.headers["host"] == hook.url.split("/")[2]
