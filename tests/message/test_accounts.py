"""Deleting a channel account on both databases: refused (409 ``in_use``, nothing written)
while messages wait to go through it, or while it is its channel's only enabled account and
something live still sends on that channel; deleted once nothing does."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from guanxi.models import Broadcast, ChannelAccount, Message
from tests.factories import Tenant, make_tenant
from tests.message.support import contact, sandbox, send, template


def _delete(tenant: Tenant, account_id: str) -> tuple[int, dict[str, Any]]:
    r = TestClient(tenant.app).delete(
        f"/api/v1/channel-accounts/{account_id}", headers=tenant.admin.auth
    )
    return r.status_code, r.json()["error"] if r.content else {}


def _refused(tenant: Tenant, account_id: str) -> dict[str, Any]:
    """The refusal, having checked it is 409 ``in_use`` and the account is still there."""
    status, error = _delete(tenant, account_id)
    assert (status, error["code"]) == (409, "in_use")
    assert tenant.call("GET", f"/channel-accounts/{account_id}")["id"] == account_id
    return error


def _deleted(tenant: Tenant, account_id: str) -> None:
    assert _delete(tenant, account_id) == (204, {})
    r = TestClient(tenant.app).get(
        f"/api/v1/channel-accounts/{account_id}", headers=tenant.admin.auth
    )
    assert r.status_code == 404
    assert account_id not in {a["id"] for a in tenant.call("GET", "/channel-accounts")}


def _node(id_: str, kind: str, **config: Any) -> dict[str, Any]:
    return {"id": id_, "kind": kind, **config}


def _sending_journey(tenant: Tenant, sms: str) -> str:
    segment = tenant.call("POST", "/segments", json={"name": "试用", "kind": "static"})["id"]
    graph = {
        "nodes": [
            _node(
                "start", "entry", trigger={"type": "segment_entered", "segment_id": int(segment)}
            ),
            _node("s", "send", channel="sms", template_id=int(sms)),
        ],
        "edges": [{"source": "start", "target": "s", "port": "out"}],
    }
    made = tenant.call("POST", "/journeys", json={"name": "试用培育", "graph": graph})
    tenant.call("POST", f"/journeys/{made['id']}/publish", json={})
    return str(made["id"])


def test_an_account_nothing_needs_is_deleted(app: FastAPI) -> None:
    tenant = make_tenant(app)
    account = sandbox(tenant, "sms", f"a1-{tenant.workspace_id}")
    sms = template(tenant, "sms", "草稿")
    segment = tenant.call("POST", "/segments", json={"name": "草稿", "kind": "static"})["id"]
    tenant.call(  # a draft broadcast sends nothing yet
        "POST", "/broadcasts", json={"name": "草稿", "template_id": sms, "segment_id": segment}
    )
    graph = {  # nor does a journey never published (publishing asks for an account)
        "nodes": [
            _node(
                "start", "entry", trigger={"type": "segment_entered", "segment_id": int(segment)}
            ),
            _node("s", "send", channel="sms", template_id=int(sms)),
        ],
        "edges": [{"source": "start", "target": "s", "port": "out"}],
    }
    tenant.call("POST", "/journeys", json={"name": "草稿旅程", "graph": graph})
    _deleted(tenant, account)


def test_messages_waiting_to_go_through_an_account_keep_it(app: FastAPI) -> None:
    tenant = make_tenant(app)
    first = sandbox(tenant, "sms", f"a2-{tenant.workspace_id}")
    second = sandbox(tenant, "sms", f"a2b-{tenant.workspace_id}")
    sms = template(tenant, "sms", "提醒")
    message = send(tenant, contact(tenant, name="周一", phone="13600001111"), sms)
    with tenant.session() as s:  # handed to the first account, then put back for a retry
        s.execute(
            update(Message)
            .where(Message.workspace_id == tenant.workspace_id, Message.id == int(message["id"]))
            .values(channel_account_id=int(first))
        )
    error = _refused(tenant, first)
    assert error["message"] == "This channel account still has messages waiting to be sent."
    assert error["details"] == {"by": "messages"}
    _deleted(tenant, second)  # the message waits for the other one
    with tenant.session() as s:
        s.execute(
            update(Message)
            .where(Message.workspace_id == tenant.workspace_id, Message.id == int(message["id"]))
            .values(status="sent")
        )
    _deleted(tenant, first)


def test_the_only_account_of_a_channel_is_kept_while_something_sends_on_it(
    app: FastAPI,
) -> None:
    tenant = make_tenant(app)
    only = sandbox(tenant, "sms", f"a3-{tenant.workspace_id}")
    email = sandbox(tenant, "email", f"a3e-{tenant.workspace_id}")
    sms = template(tenant, "sms", "通知")
    someone = contact(tenant, name="吴二", phone="13600002222")
    message = send(tenant, someone, sms)
    error = _refused(tenant, only)
    assert error["message"] == (
        "Messages are waiting to be sent on sms and no other enabled account sends it: "
        "add or turn on another account first."
    )
    assert error["details"] == {"by": "messages"}
    _deleted(tenant, email)  # nothing waits on email

    with tenant.session() as s:
        s.execute(
            update(Message)
            .where(Message.workspace_id == tenant.workspace_id, Message.id == int(message["id"]))
            .values(status="sent")
        )
    segment = tenant.call("POST", "/segments", json={"name": "会员", "kind": "static"})["id"]
    broadcast = tenant.call(
        "POST", "/broadcasts", json={"name": "周年庆", "template_id": sms, "segment_id": segment}
    )["id"]
    tenant.call("POST", f"/broadcasts/{broadcast}/send")  # its job has not run yet
    error = _refused(tenant, only)
    assert error["message"].startswith("The broadcast 周年庆 is being sent on sms")
    assert error["details"] == {"by": "broadcast", "id": broadcast}
    with tenant.session() as s:  # its job wrote every message, and they went
        s.execute(
            update(Broadcast)
            .where(Broadcast.workspace_id == tenant.workspace_id)
            .values(status="sent")
        )

    journey = _sending_journey(tenant, sms)
    error = _refused(tenant, only)
    assert error["message"].startswith("The journey 试用培育 sends sms messages")
    assert error["details"] == {"by": "journey", "id": journey}
    tenant.call("POST", f"/journeys/{journey}/pause")
    assert _refused(tenant, only)["details"] == {"by": "journey", "id": journey}

    spare = sandbox(tenant, "sms", f"a3b-{tenant.workspace_id}")
    tenant.call("PUT", f"/channel-accounts/{spare}", json=_definition(tenant, spare, False))
    assert _refused(tenant, only)["details"]["by"] == "journey"  # a spare turned off sends nothing
    tenant.call("PUT", f"/channel-accounts/{spare}", json=_definition(tenant, spare, True))
    _deleted(tenant, only)  # the spare sends for the journey now
    _refused(tenant, spare)
    tenant.call("POST", f"/journeys/{journey}/archive")
    _deleted(tenant, spare)


def _definition(tenant: Tenant, account_id: str, enabled: bool) -> dict[str, Any]:
    row = tenant.call("GET", f"/channel-accounts/{account_id}")
    keys = ("channel", "kind", "name", "config", "is_default", "rate_per_s")
    return {**{k: row[k] for k in keys}, "enabled": enabled}


def test_an_account_turned_off_carries_nothing_and_is_deleted(app: FastAPI) -> None:
    tenant = make_tenant(app)
    off = sandbox(tenant, "sms", f"a4-{tenant.workspace_id}")
    sms = template(tenant, "sms", "关怀")
    send(tenant, contact(tenant, name="郑三", phone="13600003333"), sms)
    _sending_journey(tenant, sms)
    tenant.call("PUT", f"/channel-accounts/{off}", json=_definition(tenant, off, False))
    _deleted(tenant, off)
    with tenant.session() as s:
        assert s.get(ChannelAccount, (tenant.workspace_id, int(off))) is None
