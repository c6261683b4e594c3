"""What providers report back, on both databases: a bounce (an RFC 3464 report) for an email we
sent puts the address on the suppression list, marks the message and records ``email_bounced``
on the contact's timeline — and the next email to the address is skipped; a complaint (ARF)
also opts the contact out of email; a soft bounce suppresses nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import Tenant, make_tenant
from tests.mail_sink import MailSink
from tests.message.support import contact, dispatch, message, send, smtp, template


@pytest.fixture
def sink() -> Iterator[MailSink]:
    with MailSink() as server:
        yield server


def report(kind: str, recipient: str, original_id: str, status: str = "5.1.1") -> bytes:
    """A bounce (``delivery-status``) or a complaint (``feedback-report``) about our message."""
    if kind == "bounce":
        machine = (
            "Content-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.kehu.cn\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\n"
            f"Action: {'failed' if status.startswith('5') else 'delayed'}\r\n"
            f"Status: {status}\r\n"
            "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        )
        report_type = "delivery-status"
    else:
        machine = (
            "Content-Type: message/feedback-report\r\n\r\n"
            "Feedback-Type: abuse\r\nUser-Agent: FBL/1.0\r\nVersion: 1\r\n"
            f"Original-Rcpt-To: {recipient}\r\n"
        )
        report_type = "feedback-report"
    return (
        "From: MAILER-DAEMON@mx.kehu.cn\r\nTo: bounces@guanxi.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type={report_type}; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nThe message could not be delivered.\r\n"
        f"--b1\r\n{machine}\r\n"
        "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {original_id}\r\nTo: {recipient}\r\nSubject: hi\r\n\r\n"
        "--b1--\r\n"
    ).encode()


def post(tenant: Tenant, account: str, body: bytes) -> int:
    r = TestClient(tenant.app).post(
        f"/api/v1/channel-accounts/{account}/inbound",
        content=body,
        headers={**tenant.admin.auth, "Content-Type": "message/rfc822"},
    )
    assert r.status_code == 200, r.text
    applied: int = r.json()["applied"]
    return applied


def test_bounces_and_complaints_suppress_and_are_recorded(app: FastAPI, sink: MailSink) -> None:
    tenant = make_tenant(app)
    account = smtp(tenant, sink.port)
    mail = template(tenant, "email", "通讯", subject="Hi", html="<p>hi</p>")
    gone = contact(tenant, name="退信", email="gone@kehu.cn")
    angry = contact(tenant, name="投诉", email="angry@kehu.cn")
    full = contact(tenant, name="满箱", email="full@kehu.cn")
    sent = {who: send(tenant, who, mail, marketing=True)["id"] for who in (gone, angry, full)}
    dispatch(app)
    ids = {rcpt[0]: m["Message-ID"] for rcpt, m in sink.received}

    assert post(tenant, account, report("bounce", "gone@kehu.cn", ids["gone@kehu.cn"])) == 1
    assert post(tenant, account, report("complaint", "angry@kehu.cn", ids["angry@kehu.cn"])) == 1
    soft = report("bounce", "full@kehu.cn", ids["full@kehu.cn"], status="4.2.2")
    assert post(tenant, account, soft) == 1
    assert post(tenant, account, b"Subject: just a reply\r\n\r\nthanks") == 0

    listed = tenant.call("GET", "/suppressions?channel=email")["items"]
    assert sorted((s["address"], s["reason"]) for s in listed) == [
        ("angry@kehu.cn", "complaint"),
        ("gone@kehu.cn", "bounce"),
    ]
    assert message(tenant, sent[gone])["bounced_at"] is not None
    timeline = [e["type"] for e in tenant.call("GET", f"/contacts/{gone}/timeline")["items"]]
    assert "email_bounced" in timeline
    consent = tenant.call("GET", f"/contacts/{angry}")["consent"]
    assert [(c["channel"], c["status"]) for c in consent] == [("email", "opt_out")]
    assert tenant.call("GET", f"/contacts/{full}")["consent"] == []

    again = {who: send(tenant, who, mail)["id"] for who in (gone, angry, full)}  # transactional
    dispatch(app)
    states = {who: message(tenant, i)["reason"] for who, i in again.items()}
    assert states == {gone: "suppressed", angry: "suppressed", full: None}
    assert len(sink.to("full@kehu.cn")) == 2
