"""Broadcasts on both databases: one message per member of a segment, written by a paged job
(a page done again writes nothing), each then sent or skipped by the send-time checks."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

import guanxi.message.broadcasts  # noqa: F401  (registers the broadcast job)
from guanxi.channels.sandbox.connector import mailbox
from guanxi.kit.clock import utcnow
from guanxi.message import broadcasts
from guanxi.models import Broadcast
from guanxi.worker.jobs import run_one
from tests.factories import make_tenant
from tests.message.support import contact, dispatch, sandbox, template


def test_a_broadcast_writes_one_message_per_member_once(app: FastAPI) -> None:
    tenant = make_tenant(app)
    name = f"b1-{tenant.workspace_id}"
    sandbox(tenant, "sms", name)
    sms = template(tenant, "sms", "双十一", text="{{ contact.name }}，双十一特惠")
    people = [contact(tenant, name=f"会员{i}", phone=f"1360000{i:04d}") for i in range(5)]
    tenant.call("PUT", f"/contacts/{people[0]}/consent/sms", json={"status": "opt_out"})
    segment = tenant.call("POST", "/segments", json={"name": "会员", "kind": "static"})["id"]
    tenant.call("POST", f"/segments/{segment}/members", json={"contact_ids": people[:4]})
    made = tenant.call(
        "POST", "/broadcasts", json={"name": "双十一", "template_id": sms, "segment_id": segment}
    )
    assert (made["status"], made["channel"]) == ("draft", "sms")
    started = tenant.call("POST", f"/broadcasts/{made['id']}/send")
    assert started["status"] == "sending"
    again = TestClient(app).post(f"/api/v1/broadcasts/{made['id']}/send", headers=tenant.admin.auth)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "broadcast_started")
    while run_one(app.state.sessionmaker):
        pass
    done = tenant.call("GET", f"/broadcasts/{made['id']}")
    assert (done["status"], done["queued"]) == ("sent", 4)

    with tenant.session() as s:  # the job's page done again (a crash before its checkpoint)
        row = s.get(Broadcast, (tenant.workspace_id, int(made["id"])))
        assert row is not None
        assert broadcasts.page(s, row, 0, utcnow()) is not None
        assert row.queued == 4
    dispatch(app)
    log = tenant.call("GET", f"/messages?broadcast_id={made['id']}")["items"]
    assert sorted((m["status"], m["reason"]) for m in log) == [
        ("sent", None),
        ("sent", None),
        ("sent", None),
        ("skipped", "opted_out"),
    ]
    assert sorted(m.text for m in mailbox(name).sent) == [
        "会员1，双十一特惠",
        "会员2，双十一特惠",
        "会员3，双十一特惠",
    ]
