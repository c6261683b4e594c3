"""Bounces and complaints arriving as mail, into :class:`InboundEvent` values.

Standard reports are ``multipart/report`` (RFC 6522):

- ``report-type=delivery-status`` (RFC 3464), sent by Postfix ("Undelivered Mail Returned to
  Sender"), Gmail ("Delivery Status Notification"), Exchange, QQ Mail and NetEase (both send
  Postfix-style reports from ``MAILER-DAEMON``). One event per recipient block: ``Action:
  failed`` with a 5.x.x status is a hard bounce, a 4.x.x status or ``Action: delayed`` a soft
  one, ``delivered``/``relayed``/``expanded`` a delivery.
- ``report-type=feedback-report`` (ARF, RFC 5965), sent by feedback loops when a recipient
  marks a message as spam: a complaint (``not-spam`` and ``auth-failure`` reports are not).

The original message's Message-ID, from the returned ``message/rfc822`` or
``text/rfc822-headers`` part, becomes ``message_key``: it is the ``provider_id`` the SMTP
connector returned, so the dispatcher can find the message (and its contact) even when a
provider redacts the recipient's address, as complaint feeds often do.

Reports that are not RFC 3464 are read minimally: a message from ``MAILER-DAEMON`` or
``postmaster`` or carrying ``X-Failed-Recipients`` (Exim), whose recipients are named by that
header, by ``Final-Recipient:`` lines in its text or by qmail's ``<address>:`` lines, with the
status taken from the text when it quotes one. Everything else (replies, auto-replies,
newsletters) gives ``[]``.
"""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import Any

from guanxi.channels.base import InboundEvent

_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
_SMTP_CODE = re.compile(r"\b([245])\d\d\b")
_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon")
_FINAL_RECIPIENT = re.compile(
    r"^Final-Recipient:[^;\n]*;\s*<?([^\s<>]+@[^\s<>]+?)>?\s*$", re.I | re.M
)
_QMAIL_RECIPIENT = re.compile(r"^<([^\s<>]+@[^\s<>]+)>:\s*$", re.M)
_TEXT_STATUS = re.compile(r"^Status:\s*([245]\.\d{1,3}\.\d{1,3})", re.I | re.M)
_TEXT_MESSAGE_ID = re.compile(r"^Message-ID:\s*(<[^<>\s]+>)", re.I | re.M)
_DELAYED = re.compile(
    r"not yet been delivered|will (?:be )?retr(?:y|ied)|delivery (?:is )?delayed|"
    r"temporar(?:y|ily)|延迟|暂时",
    re.I,
)
_NOT_COMPLAINTS = frozenset({"not-spam", "auth-failure"})
_DIAGNOSTIC_MAX = 1000


def parse(raw: bytes) -> list[InboundEvent]:
    """The bounce or complaint events in one RFC 822 message; ``[]`` if it is neither."""
    message = email.message_from_bytes(raw)
    for part in message.walk():
        if part.get_content_type() != "multipart/report":
            continue
        report_type = str(part.get_param("report-type") or "").lower()
        if report_type == "delivery-status":
            return _delivery_status(message, part)
        if report_type == "feedback-report":
            return _feedback_report(message, part)
    return _plain_bounce(message)


def _fields_blocks(part: Message) -> list[Message]:
    """The header blocks of a ``message/delivery-status`` or ``message/feedback-report`` part.
    Python's parser splits them already unless the part was transfer-encoded."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    text = part.get_payload(decode=True)
    if not isinstance(text, bytes):
        return []
    body = text.decode("utf-8", "replace").replace("\r\n", "\n")
    return [HeaderParser().parsestr(block) for block in re.split(r"\n\s*\n", body) if block]


def _original_headers(report: Message) -> Message | None:
    for part in report.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        elif kind == "text/rfc822-headers":
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                return HeaderParser().parsestr(data.decode("utf-8", "replace"))
    return None


def _message_id(original: Message | None) -> str | None:
    if original is None:
        return None
    value = original.get("Message-ID")
    if not value:
        return None
    value = "".join(str(value).split())
    return value if value.startswith("<") else f"<{value}>"


def _address(field: Any) -> str | None:
    """``rfc822; user@example.com`` (or ``utf-8; …``) → ``user@example.com``."""
    if not field:
        return None
    return _bare(str(field).partition(";")[2] or str(field))


def _bare(value: str) -> str | None:
    value = "".join(value.split()).strip("<>")
    return value if "@" in value else None


def _when(*values: Any) -> datetime | None:
    for value in values:
        if not value:
            continue
        try:
            at = parsedate_to_datetime(str(value))
        except (TypeError, ValueError, IndexError):
            continue
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    return None


def _status(status: Any, diagnostic: str) -> str | None:
    """The enhanced status code (RFC 3463): the field, else one quoted in the diagnostic, else
    the class of the SMTP reply code quoted there."""
    for source in (str(status or ""), diagnostic):
        found = _STATUS.search(source)
        if found:
            return found.group(0)
    code = _SMTP_CODE.search(diagnostic)
    return f"{code.group(1)}.0.0" if code else None


def _one_line(value: Any) -> str:
    return " ".join(str(value or "").split())[:_DIAGNOSTIC_MAX]


def _delivery_status(message: Message, report: Message) -> list[InboundEvent]:
    blocks: list[Message] = []
    for part in report.walk():
        if part.get_content_type() == "message/delivery-status":
            blocks = _fields_blocks(part)
            break
    per_message = blocks[0] if blocks else Message()
    key = _message_id(_original_headers(report))
    events = []
    for block in blocks:
        address = _address(block.get("Final-Recipient") or block.get("Original-Recipient"))
        if address is None:
            continue
        action = _one_line(block.get("Action")).lower()
        diagnostic = _one_line(block.get("Diagnostic-Code"))
        status = _status(block.get("Status"), diagnostic)
        at = _when(  # when it bounced: the last attempt, else the report's own date
            block.get("Last-Attempt-Date"), message.get("Date"), per_message.get("Arrival-Date")
        )
        properties: dict[str, Any] = {"action": action, "status": status}
        if diagnostic:
            properties["diagnostic"] = diagnostic
        mta = _one_line(per_message.get("Reporting-MTA")).partition(";")[2].strip()
        if mta:
            properties["reporting_mta"] = mta
        if action in {"delivered", "relayed", "expanded"}:
            events.append(InboundEvent("delivered", address, key, at, properties))
            continue
        if action == "delayed" or (status or "").startswith("4"):
            properties["bounce"] = "soft"
        elif action == "failed" or (status or "").startswith("5"):
            properties["bounce"] = "hard"
        else:
            continue
        events.append(InboundEvent("bounced", address, key, at, properties))
    return events


def _feedback_report(message: Message, report: Message) -> list[InboundEvent]:
    fields = Message()
    for part in report.walk():
        if part.get_content_type() == "message/feedback-report":
            blocks = _fields_blocks(part)
            fields = blocks[0] if blocks else fields
            break
    feedback_type = _one_line(fields.get("Feedback-Type")).lower() or "abuse"
    if feedback_type in _NOT_COMPLAINTS:
        return []
    original = _original_headers(report)
    address = _bare(str(fields.get("Original-Rcpt-To") or ""))
    if address is None and original is not None and original.get("To"):
        address = _bare(getaddresses([str(original.get("To"))])[0][1])
    properties: dict[str, Any] = {"feedback_type": feedback_type}
    for name, prop in (("User-Agent", "user_agent"), ("Source-IP", "source_ip")):
        if fields.get(name):
            properties[prop] = _one_line(fields.get(name))
    at = _when(fields.get("Arrival-Date"), fields.get("Received-Date"), message.get("Date"))
    return [InboundEvent("complained", address, _message_id(original), at, properties)]


def _text(message: Message) -> str:
    chunks = []
    for part in message.walk():
        if part.get_content_maintype() != "text":
            continue
        data = part.get_payload(decode=True)
        if isinstance(data, bytes):
            charset = part.get_content_charset() or "utf-8"
            try:
                chunks.append(data.decode(charset, "replace"))
            except LookupError:
                chunks.append(data.decode("utf-8", "replace"))
    return "\n".join(chunks).replace("\r\n", "\n")


def _plain_bounce(message: Message) -> list[InboundEvent]:
    sender = parseaddr(str(message.get("From") or ""))[1].lower()
    failed = str(message.get("X-Failed-Recipients") or "")
    if not failed and not sender.partition("@")[0].startswith(_DAEMONS):
        return []
    text = _text(message)
    addresses = [a for _, a in getaddresses([failed]) if a]
    addresses += _FINAL_RECIPIENT.findall(text) + _QMAIL_RECIPIENT.findall(text)
    if not addresses:
        return []
    found = _TEXT_STATUS.search(text)
    status = found.group(1) if found else _status(None, text)
    if status is None or status.startswith("2"):
        subject = str(make_header(decode_header(str(message.get("Subject") or ""))))
        status = "4.0.0" if _DELAYED.search(subject + "\n" + text) else "5.0.0"
    original = _original_headers(message)
    key = _message_id(original)
    if key is None:
        quoted = _TEXT_MESSAGE_ID.search(text)
        key = quoted.group(1) if quoted else None
    at = _when(message.get("Date"))
    bounce = "hard" if status.startswith("5") else "soft"
    seen: set[str] = set()
    events = []
    for address in addresses:
        if address.lower() in seen:
            continue
        seen.add(address.lower())
        properties = {"bounce": bounce, "status": status, "action": "failed"}
        events.append(InboundEvent("bounced", address, key, at, properties))
    return events
