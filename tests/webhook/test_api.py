"""The webhooks API: endpoints and their secrets, subscriptions checked against the catalogue,
test pings, the delivery log, redelivery, roles, refusals that write nothing, and other
workspaces' ids."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from guanxi.auth.permissions import Role
from guanxi.kit.clock import utcnow
from tests.factories import make_tenant
from tests.tag.client import Api
from tests.webhook.helpers import add_endpoint, attempts, deliver, deliveries, event, fan_out
from tests.webhook.receiver import Receiver


def test_endpoints_are_created_shown_changed_and_deleted(app: FastAPI, hook: Receiver) -> None:
    api = Api(make_tenant(app))
    api.post("/event-types", {"name": "webinar_poll", "label": "投票"}, 201)
    made = api.post(
        "/webhooks",
        {
            "url": hook.url,
            "description": "CRM 同步",
            "event_types": ["webinar_poll", "page_view", "page_view"],
        },
        201,
    )
    assert made["secret"].startswith("whsec_")
    assert made["event_types"] == ["page_view", "webinar_poll"]
    assert (made["status"], made["enabled"], made["failures"]) == ("enabled", True, 0)
    shown = api.get(f"/webhooks/{made['id']}")
    assert "secret" not in shown
    assert shown == {k: v for k, v in made.items() if k != "secret"}
    assert [e["id"] for e in api.get("/webhooks")["items"]] == [made["id"]]

    changed = api.patch(
        f"/webhooks/{made['id']}",
        {"url": hook.url + "/v2", "description": None, "event_types": ["note", "*"]},
    )
    assert (changed["url"], changed["description"], changed["event_types"]) == (
        hook.url + "/v2",
        None,
        ["*"],
    )
    off = api.patch(f"/webhooks/{made['id']}", {"enabled": False})
    assert (off["status"], off["disabled_reason"]) == ("disabled", "manual")
    assert off["disabled_at"] is not None
    on = api.patch(f"/webhooks/{made['id']}", {"enabled": True})
    assert (on["status"], on["disabled_reason"], on["disabled_at"]) == ("enabled", None, None)
    api.delete(f"/webhooks/{made['id']}")
    api.get(f"/webhooks/{made['id']}", 404)
    assert api.get("/webhooks")["items"] == []


def test_bad_definitions_are_refused_and_write_nothing(app: FastAPI, hook: Receiver) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    for url in ("ftp://example.com/x", "https://", "example.com/hook", "http://a b.com/x"):
        refused = api.post("/webhooks", {"url": url, "event_types": ["*"]}, 422)
        assert refused["error"]["code"] == "validation_error", url
    api.post("/webhooks", {"url": hook.url, "event_types": []}, 422)
    api.post("/webhooks", {"url": hook.url, "event_types": ["Page View"]}, 422)
    unknown = api.post("/webhooks", {"url": hook.url, "event_types": ["page_view", "nope"]}, 422)
    assert unknown["error"]["code"] == "unknown_event_type"
    assert unknown["error"]["details"] == {"event_types": ["nope"]}
    assert api.get("/webhooks")["items"] == []

    endpoint = add_endpoint(api, hook.url, "note")
    api.patch(f"/webhooks/{endpoint['id']}", {"event_types": ["nope"]}, 422)
    api.patch(f"/webhooks/{endpoint['id']}", {"url": None}, 422)
    api.patch(f"/webhooks/{endpoint['id']}", {"secret": "mine"}, 422)
    assert api.get(f"/webhooks/{endpoint['id']}")["event_types"] == ["note"]


def test_a_rotated_secret_signs_from_then_on(app: FastAPI, hook: Receiver) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    endpoint = add_endpoint(api, hook.url, "note")
    rotated = api.post(f"/webhooks/{endpoint['id']}/rotate-secret")
    assert rotated["secret"] != endpoint["secret"]
    now = utcnow()
    fan_out(tenant, [event(api.contact("陈晨"), "note", now, text="x")], now)
    deliver(app, now)
    [got] = hook.received
    assert got.verifies(rotated["secret"], int(now.timestamp()))
    assert not got.verifies(endpoint["secret"], int(now.timestamp()))


def test_a_test_ping_is_queued_sent_and_logged(app: FastAPI, hook: Receiver) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    endpoint = add_endpoint(api, hook.url, "form_submit")
    ping = api.post(f"/webhooks/{endpoint['id']}/test", expect=202)
    assert (ping["event_type"], ping["status"], ping["attempts"]) == ("ping", "pending", [])
    assert ping["payload"]["data"] == {"endpoint_id": endpoint["id"], "test": True}
    deliver(app, utcnow())
    [got] = hook.received
    assert got.headers["guanxi-event"] == "ping"
    assert got.verifies(endpoint["secret"], int(utcnow().timestamp()))
    [logged] = api.get(f"/webhooks/{endpoint['id']}/deliveries")["items"]
    assert (logged["id"], logged["status"], logged["attempt_count"]) == (ping["id"], "delivered", 1)
    [attempt] = logged["attempts"]
    assert (attempt["n"], attempt["status_code"], attempt["response"]) == (1, 200, "answered 200")
    api.patch(f"/webhooks/{endpoint['id']}", {"enabled": False})
    off = api.post(f"/webhooks/{endpoint['id']}/test", expect=409)
    assert off["error"]["code"] == "endpoint_disabled"
    assert len(api.get(f"/webhooks/{endpoint['id']}/deliveries")["items"]) == 1


def test_the_delivery_log_pages_newest_first_and_redelivers(app: FastAPI, hook: Receiver) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    endpoint = add_endpoint(api, hook.url, "note")
    contact = api.contact("刘洋")
    now = utcnow()
    for i in range(3):
        at = now + timedelta(seconds=i)
        fan_out(tenant, [event(contact, "note", at, text=str(i))], at)
    hook.answer(500)
    deliver(app, now + timedelta(seconds=2))
    path = f"/webhooks/{endpoint['id']}/deliveries"
    first = api.get(f"{path}?limit=2")
    second = api.get(f"{path}?limit=2&cursor={first['next_cursor']}")
    listed = first["items"] + second["items"]
    assert second["next_cursor"] is None
    assert [d["payload"]["data"]["properties"]["text"] for d in listed] == ["2", "1", "0"]
    [failed] = api.get(f"{path}?status=pending")["items"]
    assert failed["attempts"][0]["status_code"] == 500
    api.get(f"{path}?status=lost", 422)

    delivered = next(d for d in listed if d["status"] == "delivered")
    again = api.post(f"/webhook-deliveries/{delivered['id']}/redeliver", expect=202)
    assert (again["status"], again["id"]) == ("pending", delivered["id"])
    deliver(app, utcnow())
    [redone] = [d for d in deliveries(tenant) if d.id == int(delivered["id"])]
    assert (redone.status, redone.attempts) == ("delivered", 2)
    assert [a.n for a in attempts(tenant, redone.id)] == [1, 2]
    assert sum(r.delivery == delivered["id"] for r in hook.received) == 2

    api.patch(f"/webhooks/{endpoint['id']}", {"enabled": False})
    refused = api.post(f"/webhook-deliveries/{delivered['id']}/redeliver", expect=409)
    assert refused["error"]["code"] == "endpoint_disabled"
    assert [d.status for d in deliveries(tenant) if d.id == redone.id] == ["delivered"]


def test_deleting_an_endpoint_deletes_its_log(app: FastAPI, hook: Receiver) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    endpoint = add_endpoint(api, hook.url, "note")
    kept = add_endpoint(api, hook.url, "note")
    now = utcnow()
    fan_out(tenant, [event(api.contact("黄磊"), "note", now, text="x")], now)
    deliver(app, now)
    [gone] = deliveries(tenant, endpoint["id"])
    api.delete(f"/webhooks/{endpoint['id']}")
    assert deliveries(tenant, endpoint["id"]) == []
    assert attempts(tenant, gone.id) == []
    assert len(deliveries(tenant, kept["id"])) == 1


def test_only_administrators_shape_webhooks(app: FastAPI, hook: Receiver) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    endpoint = add_endpoint(api, hook.url, "note")
    marketer = Api(tenant, tenant.add(Role.marketer).auth)
    assert [e["id"] for e in marketer.get("/webhooks")["items"]] == [endpoint["id"]]
    marketer.get(f"/webhooks/{endpoint['id']}/deliveries")
    body = {"url": hook.url, "event_types": ["*"]}
    assert marketer.post("/webhooks", body, 403)["error"]["code"] == "forbidden"
    marketer.patch(f"/webhooks/{endpoint['id']}", {"enabled": False}, 403)
    marketer.post(f"/webhooks/{endpoint['id']}/rotate-secret", expect=403)
    marketer.post(f"/webhooks/{endpoint['id']}/test", expect=403)
    marketer.delete(f"/webhooks/{endpoint['id']}", 403)
    reader = Api(
        tenant, {"Authorization": f"Bearer {tenant.key_for(tenant.admin, ['webhooks:read'])}"}
    )
    reader.get("/webhooks")
    refused = reader.post("/webhooks", body, 403)
    assert refused["error"]["code"] == "insufficient_scope"
    assert [e["id"] for e in api.get("/webhooks")["items"]] == [endpoint["id"]]
    assert api.get(f"/webhooks/{endpoint['id']}")["enabled"] is True
    assert deliveries(tenant) == []
    now = utcnow()
    fan_out(tenant, [event(api.contact("郑爽"), "note", now, text="x")], now)
    deliver(app, now)
    assert hook.received[0].verifies(endpoint["secret"], int(now.timestamp()))


def test_other_workspaces_ids_are_not_found_and_nothing_is_written(
    app: FastAPI, hook: Receiver
) -> None:
    victim, attacker = make_tenant(app, "Victim"), make_tenant(app, "Attacker")
    theirs = Api(victim)
    endpoint = add_endpoint(theirs, hook.url, "note")
    now = utcnow()
    fan_out(victim, [event(theirs.contact("受害者"), "note", now, text="x")], now)
    deliver(app, now)
    [delivery] = deliveries(victim)
    before = (
        theirs.get(f"/webhooks/{endpoint['id']}"),
        theirs.get(f"/webhooks/{endpoint['id']}/deliveries"),
    )
    api = Api(attacker)
    e, d = endpoint["id"], str(delivery.id)
    api.get(f"/webhooks/{e}", 404)
    api.patch(f"/webhooks/{e}", {"enabled": False}, 404)
    api.post(f"/webhooks/{e}/rotate-secret", expect=404)
    api.post(f"/webhooks/{e}/test", expect=404)
    api.get(f"/webhooks/{e}/deliveries", 404)
    api.post(f"/webhook-deliveries/{d}/redeliver", expect=404)
    api.delete(f"/webhooks/{e}", 404)
    after = (
        theirs.get(f"/webhooks/{endpoint['id']}"),
        theirs.get(f"/webhooks/{endpoint['id']}/deliveries"),
    )
    assert after == before
    assert deliveries(attacker) == []
    deliver(app, utcnow())
    assert len(hook.received) == 1
