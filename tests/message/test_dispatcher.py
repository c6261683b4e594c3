"""The outbox dispatcher on both databases, through the API and the sandbox connector: a message
is sent once with its attempt recorded and an event on the timeline; retryable failures back
off and then succeed; permanent ones fail with their code; the send-time checks skip (opted
out, suppressed, no address, over the cap) or defer (quiet hours) with the reason; a message
whose dispatcher died is sent again with the same key; a client's repeated key sends once."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from guanxi.channels.sandbox.connector import mailbox
from guanxi.kit.clock import utcnow
from guanxi.message import compose
from guanxi.message.dispatcher import MAX_TAKEOVERS, Dispatcher
from guanxi.models import Message, MessageAttempt
from tests.factories import Tenant, make_tenant
from tests.mail_sink import MailSink
from tests.message.support import contact, dispatch, message, sandbox, send, smtp, template


def _timeline(tenant: Tenant, contact_id: str) -> list[str]:
    return [e["type"] for e in tenant.call("GET", f"/contacts/{contact_id}/timeline")["items"]]


def test_a_message_is_sent_once_with_its_attempt_and_event(app: FastAPI) -> None:
    tenant = make_tenant(app)
    name = f"d1-{tenant.workspace_id}"
    sandbox(tenant, "sms", name)
    box = mailbox(name)
    sms = template(
        tenant, "sms", "验证码", text="{{ contact.name | default('您') }}好，验证码 {{ code }}"
    )
    person = contact(tenant, name="王芳", phone="13800138000")
    first = send(tenant, person, sms, key="otp-1", variables={"code": "4321"})
    again = send(tenant, person, sms, key="otp-1", variables={"code": "9999"})
    assert again["id"] == first["id"]
    assert first["status"] == "queued"

    dispatch(app)
    assert [m.text for m in box.sent] == ["王芳好，验证码 4321"]
    assert box.sent[0].to == "+8613800138000"
    done = message(tenant, first["id"])
    assert (done["status"], done["attempts"]) == ("sent", 1)
    assert [t["outcome"] for t in done["tries"]] == ["sent"]
    assert "sms_sent" in _timeline(tenant, person)
    dispatch(app)
    assert len(box.deliveries) == 1
    assert box.deliveries[0].attempts == 1


def test_retryable_failures_back_off_then_succeed_and_permanent_ones_fail(app: FastAPI) -> None:
    tenant = make_tenant(app)
    name = f"d2-{tenant.workspace_id}"
    sandbox(tenant, "sms", name)
    box = mailbox(name)
    sms = template(tenant, "sms", "通知")
    person = contact(tenant, name="李雷", phone="13900139000")
    retried = send(tenant, person, sms)
    box.fail_next("retryable")
    dispatch(app)
    waiting = message(tenant, retried["id"])
    assert waiting["status"] == "queued"
    assert waiting["error"]
    assert [t["outcome"] for t in waiting["tries"]] == ["retry"]
    due = datetime.fromisoformat(waiting["due_at"])
    assert due > utcnow() + timedelta(seconds=20)
    dispatch(app)  # not due yet: nothing happens
    assert message(tenant, retried["id"])["attempts"] == 1
    dispatch(app, due + timedelta(seconds=1))
    assert [t["outcome"] for t in message(tenant, retried["id"])["tries"]] == ["retry", "sent"]

    refused = send(tenant, person, sms)
    box.fail_next("permanent")
    dispatch(app)
    failed = message(tenant, refused["id"])
    assert (failed["status"], failed["reason"]) == ("failed", "sandbox_rejected")
    assert [m.key for m in box.sent] == [f"a:{retried['key'][2:]}"]


def test_send_time_checks_skip_or_defer_with_the_reason(app: FastAPI) -> None:
    tenant = make_tenant(app)
    name = f"d3-{tenant.workspace_id}"
    sandbox(tenant, "sms", name)
    box = mailbox(name)
    sms = template(tenant, "sms", "促销")
    opted_out = contact(tenant, name="退订", phone="13700137000", timezone=_zone_at(12))
    suppressed = contact(tenant, name="黑名单", phone="13600136000", timezone=_zone_at(12))
    no_phone = contact(tenant, name="无号码", timezone=_zone_at(12))
    capped = contact(tenant, name="上限", phone="13500135000", timezone=_zone_at(12))
    sleeping = contact(tenant, name="夜猫", phone="13400134000", timezone=_zone_at(23))
    tenant.call("PUT", f"/contacts/{opted_out}/consent/sms", json={"status": "opt_out"})
    tenant.call("POST", "/suppressions", json={"channel": "sms", "addresses": ["+8613600136000"]})
    tenant.call(
        "PUT",
        "/sending-policy",
        json={
            "quiet_start": "21:00",
            "quiet_end": "08:00",
            "caps": [{"channel": "all", "count": 2, "days": 7}],
        },
    )
    ids = {
        who: send(tenant, who_id, sms, marketing=True)["id"]
        for who, who_id in (
            ("opted_out", opted_out),
            ("suppressed", suppressed),
            ("no_phone", no_phone),
            ("sleeping", sleeping),
        )
    }
    capped_ids = [send(tenant, capped, sms, marketing=True)["id"] for _ in range(3)]
    transactional = send(tenant, opted_out, sms)["id"]  # consent holds back marketing only
    dispatch(app)

    def state(message_id: str) -> tuple[str, str | None]:
        m = message(tenant, message_id)
        return m["status"], m["reason"]

    assert state(ids["opted_out"]) == ("skipped", "opted_out")
    assert state(ids["suppressed"]) == ("skipped", "suppressed")
    assert state(ids["no_phone"]) == ("skipped", "no_address")
    assert sorted(state(i) for i in capped_ids) == [
        ("sent", None),
        ("sent", None),
        ("skipped", "frequency_cap"),
    ]
    assert state(transactional) == ("sent", None)
    night = message(tenant, ids["sleeping"])
    assert (night["status"], night["reason"]) == ("queued", "quiet_hours")
    # held while judged, then let go: a skip or a deferral is not an attempt
    untried = [ids["opted_out"], ids["suppressed"], ids["no_phone"], ids["sleeping"]]
    assert [message(tenant, i)["attempts"] for i in untried] == [0, 0, 0, 0]
    with tenant.session() as s:
        assert not s.scalars(
            select(MessageAttempt).where(
                MessageAttempt.workspace_id == tenant.workspace_id,
                MessageAttempt.message_id.in_([int(i) for i in untried]),
            )
        ).all()
    wakes = datetime.fromisoformat(night["due_at"])
    assert wakes.astimezone(ZoneInfo(_zone_at(23))).hour == 8
    sent_to = sorted(m.to for m in box.sent)
    assert sent_to == ["+8613500135000", "+8613500135000", "+8613700137000"]
    dispatch(app, wakes + timedelta(minutes=1))
    assert state(ids["sleeping"]) == ("sent", None)


def _died_sending(tenant: Tenant, message_id: str, attempts: int) -> None:
    """What a dispatcher that died mid-send leaves: the row says sending, its lease ran out."""
    with tenant.session() as s:
        s.execute(
            update(Message)
            .where(Message.workspace_id == tenant.workspace_id, Message.id == int(message_id))
            .values(
                status="sending",
                claimed_by="dead-worker",
                lease_until=utcnow() - timedelta(seconds=1),
                attempts=attempts,
            )
        )


def test_a_message_whose_dispatcher_died_goes_again_with_the_same_key(app: FastAPI) -> None:
    tenant = make_tenant(app)
    name = f"d4-{tenant.workspace_id}"
    sandbox(tenant, "sms", name)
    box = mailbox(name)
    person = contact(tenant, name="韩梅梅", phone="13300133000")
    queued = send(tenant, person, template(tenant, "sms", "提醒"))
    _died_sending(tenant, queued["id"], attempts=1)  # a dispatcher took it and died
    dispatch(app)
    done = message(tenant, queued["id"])
    assert (done["status"], done["attempts"]) == ("sent", 2)
    assert [m.key for m in box.sent] == [queued["key"]]


def _taken_over(
    app: FastAPI, policy: dict[str, Any], **person: str
) -> tuple[Tenant, str, dict[str, Any]]:
    """A marketing SMS whose dispatcher died before it wrote down the address, under
    ``policy``: (tenant, sandbox name, message)."""
    tenant = make_tenant(app)
    name = f"takeover-{tenant.workspace_id}"
    sandbox(tenant, "sms", name)
    tenant.call("PUT", "/sending-policy", json=policy)
    queued = send(
        tenant, contact(tenant, **person), template(tenant, "sms", "接管"), marketing=True
    )
    _died_sending(tenant, queued["id"], attempts=1)
    return tenant, name, queued


def test_a_message_taken_over_in_quiet_hours_waits_for_the_morning(app: FastAPI) -> None:
    tenant, name, queued = _taken_over(
        app,
        {"quiet_start": "21:00", "quiet_end": "08:00"},
        name="夜班",
        phone="13100131000",
        timezone=_zone_at(23),
    )
    dispatch(app)
    night = message(tenant, queued["id"])
    assert (night["status"], night["reason"]) == ("queued", "quiet_hours")
    wakes = datetime.fromisoformat(night["due_at"])
    assert wakes.astimezone(ZoneInfo(_zone_at(23))).hour == 8
    assert dispatch(app) == 0  # not taken again before then
    dispatch(app, wakes + timedelta(minutes=1))
    assert message(tenant, queued["id"])["status"] == "sent"
    assert [m.key for m in mailbox(name).sent] == [queued["key"]]


def test_a_takeover_judged_again_does_not_count_against_its_own_cap(app: FastAPI) -> None:
    cap = {"caps": [{"channel": "all", "count": 1, "days": 7}]}
    tenant, name, queued = _taken_over(app, cap, name="一次", phone="13000130000")
    dispatch(app)
    assert message(tenant, queued["id"])["status"] == "sent"
    assert [m.key for m in mailbox(name).sent] == [queued["key"]]


def test_a_message_that_keeps_stopping_its_dispatchers_is_given_up(app: FastAPI) -> None:
    tenant = make_tenant(app)
    name = f"d8-{tenant.workspace_id}"
    sandbox(tenant, "sms", name)
    person = contact(tenant, name="毒丸", phone="13400134000")
    sms = template(tenant, "sms", "毒丸")
    once_more, poison = send(tenant, person, sms), send(tenant, person, sms)
    started = utcnow() - timedelta(minutes=10)
    # each was taken by dispatchers that stopped mid-send, one time short of the limit and at it
    for queued, stops in ((once_more, MAX_TAKEOVERS - 1), (poison, MAX_TAKEOVERS)):
        _died_sending(tenant, queued["id"], attempts=stops)
        with tenant.session() as s:
            s.add_all(
                MessageAttempt(
                    workspace_id=tenant.workspace_id,
                    message_id=int(queued["id"]),
                    n=n,
                    worker="dead-worker",
                    started_at=started,
                )
                for n in range(1, stops + 1)
            )
    dispatch(app)
    assert [m.key for m in mailbox(name).sent] == [once_more["key"]]
    sent = message(tenant, once_more["id"])
    assert (sent["status"], sent["attempts"]) == ("sent", MAX_TAKEOVERS)
    failed = message(tenant, poison["id"])
    assert (failed["status"], failed["reason"]) == ("failed", "too_many_attempts")
    assert failed["attempts"] == MAX_TAKEOVERS
    assert [t["outcome"] for t in failed["tries"]] == [None] * MAX_TAKEOVERS
    with tenant.session() as s:
        row = s.get(Message, (tenant.workspace_id, int(poison["id"])))
        assert row is not None
        assert (row.claimed_by, row.lease_until) == (None, None)
    assert dispatch(app) == 0


class _Killed(BaseException):
    """The process dying, as seen from inside it: nothing after it runs, nothing commits."""


def test_a_message_that_kills_its_dispatcher_while_composed_is_given_up(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(app)
    name = f"d9-{tenant.workspace_id}"
    sandbox(tenant, "sms", name)
    person = contact(tenant, name="炸弹", phone="13200132000")
    queued = send(tenant, person, template(tenant, "sms", "炸弹"))

    def dies(*_: object) -> None:
        raise _Killed()

    monkeypatch.setattr(compose.Composer, "build", dies)
    at = utcnow()
    for stop in range(1, MAX_TAKEOVERS + 1):
        with pytest.raises(_Killed):
            dispatch(app, at)
        # the hold was committed before composing: the stop is on record
        held = message(tenant, queued["id"])
        assert (held["status"], held["attempts"]) == ("sending", stop)
        at += timedelta(seconds=app.state.settings.dispatch_lease_s + 1)  # its lease runs out
    monkeypatch.undo()
    dispatch(app, at)
    failed = message(tenant, queued["id"])
    assert (failed["status"], failed["reason"]) == ("failed", "too_many_attempts")
    assert mailbox(name).sent == []


def test_a_throttled_domain_hands_the_message_back_without_an_attempt(app: FastAPI) -> None:
    tenant = make_tenant(app)
    with MailSink() as sink:
        smtp(tenant, sink.port, per_domain_per_s={"kehu.cn": 1}, throttle_max_wait_s=0)
        mail = template(tenant, "email", "限流", subject="Hi", html="<p>hi</p>")
        first, second = (
            send(tenant, contact(tenant, name=n, email=f"{n}@kehu.cn"), mail)
            for n in ("first", "second")
        )
        dispatch(app)
        assert [rcpt for rcpt, _ in sink.received] == [["first@kehu.cn"]]
    sent, waiting = message(tenant, first["id"]), message(tenant, second["id"])
    assert (sent["status"], sent["attempts"]) == ("sent", 1)
    assert [t["outcome"] for t in sent["tries"]] == ["sent"]
    assert (waiting["status"], waiting["attempts"], waiting["tries"]) == ("queued", 0, [])
    assert datetime.fromisoformat(waiting["due_at"]) <= utcnow() + timedelta(seconds=1)


def test_cancel_only_what_has_not_gone(app: FastAPI) -> None:
    tenant = make_tenant(app)
    sandbox(tenant, "sms", f"d5-{tenant.workspace_id}")
    person = contact(tenant, name="赵敏", phone="13200132000")
    sms = template(tenant, "sms", "取消")
    first, second = send(tenant, person, sms), send(tenant, person, sms)
    cancelled = tenant.call("POST", f"/messages/{first['id']}/cancel")
    assert cancelled["status"] == "cancelled"
    dispatch(app)
    assert message(tenant, first["id"])["status"] == "cancelled"
    assert mailbox(f"d5-{tenant.workspace_id}").sent[0].key == second["key"]
    r = TestClient(app).post(f"/api/v1/messages/{second['id']}/cancel", headers=tenant.admin.auth)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "message_not_cancellable")


def _zone_at(hour: int) -> str:
    """A fixed-offset zone whose local time is now ``hour`` o'clock (give or take the minutes)."""
    offset = (hour - utcnow().hour + 12) % 24 - 12  # -12 … +11
    return "Etc/GMT" + (f"-{offset}" if offset > 0 else f"+{-offset}")


def test_a_channel_account_rate_paces_the_sends(app: FastAPI) -> None:
    tenant = make_tenant(app)
    name = f"d6-{tenant.workspace_id}"
    account = sandbox(tenant, "sms", name)
    tenant.call(
        "PUT",
        f"/channel-accounts/{account}",
        json={
            "channel": "sms",
            "kind": "sandbox",
            "name": "slow",
            "config": {"mailbox": name},
            "rate_per_s": 20,
        },
    )
    sms = template(tenant, "sms", "限速")
    people = [contact(tenant, name=f"速{i}", phone=f"1370000{i:04d}") for i in range(60)]
    for person in people:
        send(tenant, person, sms)
    started = time.perf_counter()
    dispatch(app)
    elapsed = time.perf_counter() - started
    assert len(mailbox(name).sent) == 60
    assert elapsed >= (60 - 20) / 20 * 0.9  # a second's burst, then 20 a second


def test_a_slow_round_keeps_its_messages_from_another_dispatcher(app: FastAPI) -> None:
    tenant = make_tenant(app)
    name = f"d7-{tenant.workspace_id}"
    sandbox(tenant, "sms", name, latency_s=1.5)
    person = contact(tenant, name="慢", phone="13100131000")
    queued = send(tenant, person, template(tenant, "sms", "慢速"))
    settings = app.state.settings.model_copy(update={"dispatch_lease_s": 0.6})
    slow = Dispatcher(app.state.sessionmaker, settings, worker="slow")
    other = Dispatcher(app.state.sessionmaker, settings, worker="other")
    try:
        round_ = threading.Thread(target=slow.run_once)
        round_.start()
        time.sleep(1.0)  # past the first lease: the slow round has renewed it
        other.run_once()
        with tenant.session() as s:
            row = s.get(Message, (tenant.workspace_id, int(queued["id"])))
            assert row is not None
            assert (row.status, row.claimed_by) == ("sending", "slow")
        round_.join()
    finally:
        slow.close()
        other.close()
    done = message(tenant, queued["id"])
    assert (done["status"], done["attempts"]) == ("sent", 1)
    assert mailbox(name).deliveries[0].attempts == 1
