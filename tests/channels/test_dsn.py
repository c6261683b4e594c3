"""Bounces and complaints, from sample reports shaped like those Postfix, Gmail, Exim and the
feedback loops send, into events; anything else into nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from guanxi.channels.base import InboundEvent, message_id
from guanxi.channels.email.connector import SmtpConfig, SmtpConnector
from guanxi.channels.email.dsn import parse

OURS = message_id("enrolment:42:node:3:0", "guanxi.example")


def crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


POSTFIX = crlf(f"""\
Return-Path: <>
Received: by mail.guanxi.example (Postfix) id 3F2A8C0C2; Tue, 14 Apr 2026 09:12:31 +0800 (CST)
Date: Tue, 14 Apr 2026 09:12:31 +0800 (CST)
From: MAILER-DAEMON@mail.guanxi.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: bounces@guanxi.example
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="3F2A8C0C2.1776129151/mail.guanxi.example"
Content-Transfer-Encoding: 7bit
Message-Id: <20260414011231.3F2A8C0C2@mail.guanxi.example>

This is a MIME-encapsulated message.

--3F2A8C0C2.1776129151/mail.guanxi.example
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mail.guanxi.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<nobody@example.org>: host mx.example.org[203.0.113.5] said: 550 5.1.1
    <nobody@example.org>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)

--3F2A8C0C2.1776129151/mail.guanxi.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.guanxi.example
X-Postfix-Queue-ID: 3F2A8C0C2
X-Postfix-Sender: rfc822; bounces@guanxi.example
Arrival-Date: Tue, 14 Apr 2026 09:12:29 +0800 (CST)

Final-Recipient: rfc822; nobody@example.org
Original-Recipient: rfc822;nobody@example.org
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: Recipient address
    rejected: User unknown in virtual mailbox table

--3F2A8C0C2.1776129151/mail.guanxi.example
Content-Description: Undelivered Message
Content-Type: message/rfc822

From: =?utf-8?b?5YWz57O7?= <news@guanxi.example>
To: nobody@example.org
Subject: =?utf-8?b?5pil6IqC54m55oOg?=
Message-ID: {OURS}
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello

--3F2A8C0C2.1776129151/mail.guanxi.example--
""")

GMAIL_DELAYED_AND_FAILED = crlf(f"""\
Delivered-To: bounces@guanxi.example
Return-Path: <>
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: bounces@guanxi.example
Subject: Delivery Status Notification (Delay)
Date: Wed, 15 Apr 2026 02:00:00 -0700
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; boundary="000000000000abcdef"; report-type=delivery-status

--000000000000abcdef
Content-Type: multipart/related; boundary="000000000000abc123"

--000000000000abc123
Content-Type: multipart/alternative; boundary="000000000000abc456"

--000000000000abc456
Content-Type: text/plain; charset="UTF-8"

** Delivery incomplete **

There was a temporary problem delivering your message to busy@example.net.
Gmail will retry for 47 more hours.

--000000000000abc456
Content-Type: text/html; charset="UTF-8"

<html><body><p>Delivery incomplete</p></body></html>

--000000000000abc456--
--000000000000abc123--
--000000000000abcdef
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Arrival-Date: Wed, 15 Apr 2026 01:00:00 -0700 (PDT)
X-Original-Message-ID: {OURS}

Final-Recipient: rfc822; busy@example.net
Action: delayed
Status: 4.4.1
Diagnostic-Code: smtp; The recipient server did not accept our requests to
 connect. [mx.example.net. 198.51.100.7: timed out]
Last-Attempt-Date: Wed, 15 Apr 2026 02:00:00 -0700 (PDT)
Will-Retry-Until: Fri, 17 Apr 2026 01:00:00 -0700 (PDT)

Final-Recipient: rfc822; gone@example.net
Action: failed
Diagnostic-Code: smtp; 550-5.7.1 [2001:db8::1] The user or domain that you are
 sending to has a policy that prohibited the mail 550 5.7.1 - gsmtp

--000000000000abcdef
Content-Type: text/rfc822-headers

From: news@guanxi.example
To: busy@example.net, gone@example.net
Subject: Spring
Message-ID:
 {OURS}

--000000000000abcdef--
""")

ARF = crlf(f"""\
From: <staff@hotmail.example>
Date: Thu, 16 Apr 2026 10:00:00 +0000
Subject: FW: Spring sale
To: <abuse@guanxi.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
     boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.1 on Thu, 16 Apr 2026 08:00:00 +0000.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <bounces@guanxi.example>
Original-Rcpt-To: <Complainer@example.com>
Arrival-Date: Thu, 16 Apr 2026 08:00:00 +0000
Source-IP: 192.0.2.1

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822
Content-Disposition: inline

From: <news@guanxi.example>
To: <complainer@example.com>
Subject: Spring sale
Message-ID: {OURS}

Buy now.

--part1_13d.2e68ed54_boundary--
""")


def test_postfix_hard_bounce() -> None:
    assert parse(POSTFIX) == [
        InboundEvent(
            kind="bounced",
            address="nobody@example.org",
            message_key=OURS,
            at=datetime.fromisoformat("2026-04-14T09:12:31+08:00"),
            properties={
                "bounce": "hard",
                "action": "failed",
                "status": "5.1.1",
                "diagnostic": "smtp; 550 5.1.1 <nobody@example.org>: Recipient address "
                "rejected: User unknown in virtual mailbox table",
                "reporting_mta": "mail.guanxi.example",
            },
        )
    ]


def test_gmail_report_with_a_delay_and_a_failure() -> None:
    delayed, failed = parse(GMAIL_DELAYED_AND_FAILED)
    assert (delayed.kind, delayed.address, delayed.message_key) == (
        "bounced",
        "busy@example.net",
        OURS,
    )
    assert delayed.properties["bounce"] == "soft"
    assert delayed.properties["status"] == "4.4.1"
    assert delayed.at == datetime(2026, 4, 15, 9, 0, tzinfo=UTC)
    assert (failed.address, failed.properties["bounce"]) == ("gone@example.net", "hard")
    assert failed.properties["status"] == "5.7.1"  # no Status field: read from the diagnostic
    assert failed.at == datetime(2026, 4, 15, 9, 0, tzinfo=UTC)  # no attempt date: the report's


def test_arf_complaint() -> None:
    assert parse(ARF) == [
        InboundEvent(
            kind="complained",
            address="Complainer@example.com",
            message_key=OURS,
            at=datetime(2026, 4, 16, 8, 0, tzinfo=UTC),
            properties={
                "feedback_type": "abuse",
                "user_agent": "SomeGenerator/1.0",
                "source_ip": "192.0.2.1",
            },
        )
    ]


def test_redacted_complaint_falls_back_to_the_original_to_and_the_message_id() -> None:
    redacted = ARF.replace(b"Original-Rcpt-To: <Complainer@example.com>\r\n", b"")
    (event,) = parse(redacted)
    assert (event.address, event.message_key) == ("complainer@example.com", OURS)
    anonymous = redacted.replace(b"To: <complainer@example.com>\r\n", b"")
    (event,) = parse(anonymous)
    assert (event.address, event.message_key) == (None, OURS)


def test_not_spam_and_auth_failure_reports_are_not_complaints() -> None:
    assert parse(ARF.replace(b"Feedback-Type: abuse", b"Feedback-Type: not-spam")) == []
    assert parse(ARF.replace(b"Feedback-Type: abuse", b"Feedback-Type: auth-failure")) == []


def test_delivery_report_is_a_delivery() -> None:
    success = POSTFIX.replace(b"Action: failed", b"Action: delivered").replace(
        b"Status: 5.1.1", b"Status: 2.0.0"
    )
    (event,) = parse(success)
    assert (event.kind, event.address, event.message_key) == (
        "delivered",
        "nobody@example.org",
        OURS,
    )


def test_exim_plain_bounce_with_x_failed_recipients() -> None:
    raw = crlf(f"""\
Return-path: <>
From: Mail Delivery System <Mailer-Daemon@relay.example.com>
To: bounces@guanxi.example
Subject: Mail delivery failed: returning message to sender
X-Failed-Recipients: olduser@example.com
Auto-Submitted: auto-replied
Date: Fri, 17 Apr 2026 12:00:00 +0200

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  olduser@example.com
    host mx.example.com [192.0.2.9]
    SMTP error from remote mail server after RCPT TO:<olduser@example.com>:
    550 5.1.1 User unknown

------ This is a copy of the message, including all the headers. ------

From: news@guanxi.example
To: olduser@example.com
Message-ID: {OURS}
Subject: Spring
""")
    (event,) = parse(raw)
    assert (event.kind, event.address, event.message_key) == (
        "bounced",
        "olduser@example.com",
        OURS,
    )
    assert event.properties == {"bounce": "hard", "status": "5.1.1", "action": "failed"}


def test_mailer_daemon_text_bounce_with_report_lines() -> None:
    """Text-only notices from a MAILER-DAEMON quoting DSN fields in the body (a shape seen from
    Chinese providers' relays in public bounce-handling tests; no authoritative sample of QQ or
    163 text bounces was found: both send RFC 3464 reports, handled above)."""
    raw = crlf("""\
From: Mail Delivery Subsystem <MAILER-DAEMON@qq.com>
To: bounces@guanxi.example
Subject: =?utf-8?b?5oqV6YCS5aSx6LSl77ya57O757uf6YCA5L+h?=
Date: Sat, 18 Apr 2026 08:00:00 +0800
Content-Type: text/plain; charset=utf-8

Final-Recipient: rfc822; 10001@qq.com
Action: failed
Status: 5.1.1
550 User not found 邮箱不存在
""")
    (event,) = parse(raw)
    assert (event.address, event.properties["bounce"], event.properties["status"]) == (
        "10001@qq.com",
        "hard",
        "5.1.1",
    )
    delayed = raw.replace(b"Status: 5.1.1\r\n550 User not found", b"will be retried later")
    (event,) = parse(delayed)
    assert event.properties["bounce"] == "soft"


def test_other_mail_is_not_a_bounce() -> None:
    reply = crlf(f"""\
From: Zhang San <zhangsan@example.com>
To: news@guanxi.example
Subject: Re: Spring sale
In-Reply-To: {OURS}
Date: Sat, 18 Apr 2026 08:00:00 +0800
Content-Type: text/plain; charset=utf-8

Please call me. Status: 5.1.1 is what my friend got.
""")
    vacation = reply.replace(b"Subject: Re: Spring sale", b"Subject: Auto: out of office")
    assert parse(reply) == []
    assert parse(vacation + b"Auto-Submitted: auto-replied\r\n") == []
    assert parse(b"") == []
    assert parse(b"\x00\xff garbage \r\n\r\n") == []
    assert parse(b'{"sandbox_events": []}') == []


def test_the_connector_reads_inbound_mail_as_reports() -> None:
    connector = SmtpConnector(SmtpConfig(host="localhost", from_address="news@guanxi.example"))
    assert connector.parse_inbound(POSTFIX, {}) == parse(POSTFIX)
