"""Every registered connector keeps the contract (one test, parametrised over ``REGISTRY``):
settings in a Config model with secrets as ``SecretStr``; open, send, close; a temporary failure
raises RetryableSendError and a permanent one PermanentSendError, and the connector keeps
working after either; a repeat of a key is the same message to the provider; a callback body of
another kind parses to ``[]``.

SMTP runs against a real local server (aiosmtpd, in a thread) that can be told to answer 451 or
550 and counts connections; below the contract, what only SMTP and the sandbox do: connection
reuse and recovery, per-domain throttling, signed sandbox callbacks.
"""

from __future__ import annotations

import asyncio
import email
import socket
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from email import policy
from email.message import EmailMessage
from typing import Any, Literal, Protocol

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr

from guanxi.channels import REGISTRY, connector_for
from guanxi.channels.base import (
    InboundEvent,
    InboundRejected,
    OutboundMessage,
    PermanentSendError,
    RetryableSendError,
    SendResult,
    UnknownConnector,
    secret_fields,
)
from guanxi.channels.email.connector import SmtpConfig, SmtpConnector, _mapped, for_data
from guanxi.channels.email.mime import Prebuilt
from guanxi.channels.sandbox.connector import SandboxConnector, callback, mailbox
from guanxi.kit.pacing import Pacer

Failure = Literal["retryable", "permanent"]
REPLIES = {
    "retryable": "451 4.7.1 Greylisted, please try again later",
    "permanent": "550 5.1.1 User unknown",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Sink:
    """aiosmtpd handler: keeps what it receives, counts connections (one EHLO each), answers the
    next RCPT or MAIL with queued replies, and can drop every open connection."""

    def __init__(self) -> None:
        self.connections = 0
        self.messages: list[bytes] = []
        self.rcpt_replies: deque[str] = deque()
        self.mail_replies: deque[str] = deque()
        self.data_replies: deque[str] = deque()
        self.servers: list[SMTPServer] = []

    async def handle_EHLO(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        self.connections += 1
        self.servers.append(server)
        session.host_name = hostname
        return responses

    async def handle_MAIL(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        if self.mail_replies:
            return self.mail_replies.popleft()
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        if self.rcpt_replies:
            return self.rcpt_replies.popleft()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        if self.data_replies:
            return self.data_replies.popleft()
        self.messages.append(envelope.content)
        return "250 2.0.0 Ok: queued"

    def drop_connections(self) -> None:
        for server in self.servers:
            if server.transport is not None:
                server.transport.close()


class Harness(Protocol):
    settings: dict[str, Any]
    foreign_body: bytes

    def fail_next(self, failure: Failure) -> None: ...

    def visible_ids(self) -> list[str]:
        """The ids the provider's side saw, one per message it holds."""
        ...

    def close(self) -> None: ...


class SmtpHarness:
    foreign_body = b'{"sandbox_events": [{"kind": "delivered", "address": "a@example.com"}]}'

    def __init__(self) -> None:
        self.sink = Sink()
        port = free_port()
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=port)
        self.controller.start()
        self.settings = {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "from_address": "news@guanxi.example",
            "from_name": "关系",
            "pool_size": 2,
            "timeout_s": 5,
        }

    def fail_next(self, failure: Failure) -> None:
        self.sink.rcpt_replies.append(REPLIES[failure])

    def visible_ids(self) -> list[str]:
        return [str(email.message_from_bytes(m)["Message-ID"]) for m in self.sink.messages]

    def close(self) -> None:
        self.controller.stop()


class SandboxHarness:
    foreign_body = b"From: someone@example.com\r\nSubject: hi\r\n\r\nhello\r\n"

    def __init__(self) -> None:
        self.box = mailbox("contract")
        self.box.clear()
        self.settings = {"mailbox": "contract", "webhook_secret": "s3cret"}

    def fail_next(self, failure: Failure) -> None:
        self.box.fail_next(failure)

    def visible_ids(self) -> list[str]:
        return [d.provider_id for d in self.box.deliveries]

    def close(self) -> None:
        self.box.clear()


HARNESSES: dict[str, type[SmtpHarness] | type[SandboxHarness]] = {
    "smtp": SmtpHarness,
    "sandbox": SandboxHarness,
}


@pytest.fixture(params=sorted(REGISTRY))
def harness(request: pytest.FixtureRequest) -> Iterator[tuple[str, Harness]]:
    kind: str = request.param
    assert kind in HARNESSES, f"the {kind} connector has no harness in the contract test"
    made = HARNESSES[kind]()
    yield kind, made
    made.close()


def outbound(
    key: str, channel: str = "email", to: str = "zhang.san@example.com"
) -> OutboundMessage:
    return OutboundMessage(
        key=key,
        channel=channel,
        to=to,
        subject="春季新品 {key}",
        html=f"<p>你好 {key}</p>",
        text=f"你好 {key}",
        headers={"List-Unsubscribe": "<https://guanxi.example/u/t>"},
        data={"template": "spring"},
    )


def test_connector_contract(harness: tuple[str, Harness]) -> None:
    kind, h = harness
    cls = connector_for(kind)
    assert cls.name == kind
    assert issubclass(cls.Config, BaseModel)
    config = cls.Config.model_validate(h.settings)
    secrets = secret_fields(cls.Config)
    for name in cls.Config.model_fields:
        if any(word in name for word in ("password", "secret", "token", "api_key")):
            assert name in secrets, f"{kind}.{name} looks secret but is not a SecretStr"
    for name in secrets:
        value = getattr(config, name)
        assert value is None or isinstance(value, SecretStr)
        assert value is None or value.get_secret_value() not in config.model_dump_json()

    async def scenario() -> None:
        connector = cls.from_settings(h.settings)
        assert connector.max_in_flight >= 1
        async with connector:
            first = await connector.send(outbound("m-1"))
            assert isinstance(first, SendResult)
            assert first.provider_id
            h.fail_next("retryable")
            with pytest.raises(RetryableSendError) as retry:
                await connector.send(outbound("m-2"))
            assert retry.value.after_s > 0
            assert str(retry.value)
            h.fail_next("permanent")
            with pytest.raises(PermanentSendError) as refused:
                await connector.send(outbound("m-2"))
            assert refused.value.code
            second = await connector.send(outbound("m-2"))
            repeat = await connector.send(outbound("m-1"))
            assert repeat.provider_id == first.provider_id != second.provider_id
            assert set(h.visible_ids()) == {first.provider_id, second.provider_id}
            many = [outbound(f"m-burst-{i}") for i in range(connector.max_in_flight * 2)]
            results = await asyncio.gather(*(connector.send(m) for m in many))
            assert len({r.provider_id for r in results}) == len(many)
        await connector.close()  # closing twice is harmless

    asyncio.run(scenario())
    connector = cls.from_settings(h.settings)
    for body in (h.foreign_body, b"", b"not a callback of any kind", b"\x00\xff\xfe"):
        assert connector.parse_inbound(body, {"content-type": "application/octet-stream"}) == []


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(UnknownConnector):
        connector_for("carrier-pigeon")


# --- SMTP beyond the contract ----------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[SmtpHarness]:
    made = SmtpHarness()
    yield made
    made.close()


def test_smtp_reuses_connections_and_recovers(smtp: SmtpHarness) -> None:
    async def scenario() -> None:
        async with SmtpConnector(SmtpConfig.model_validate(smtp.settings | {"pool_size": 2})) as c:
            for i in range(5):
                await c.send(outbound(f"seq-{i}"))
            assert smtp.sink.connections == 1  # five messages, one connection
            smtp.fail_next("permanent")
            with pytest.raises(PermanentSendError, match=r"550 5\.1\.1"):
                await c.send(outbound("bad", to="nobody@example.com"))
            await c.send(outbound("after-550"))
            assert smtp.sink.connections == 1  # reset (RSET), not reconnected
            await asyncio.gather(*(c.send(outbound(f"par-{i}")) for i in range(8)))
            assert smtp.sink.connections == 2  # never more than pool_size
            smtp.sink.mail_replies.append("421 4.4.2 Idle too long, closing")
            await c.send(outbound("after-421"))  # the stale connection is replaced, once
            smtp.controller.loop.call_soon_threadsafe(smtp.sink.drop_connections)
            await asyncio.sleep(0.1)
            await c.send(outbound("after-drop"))
            assert c.connections_opened == smtp.sink.connections == 4

    asyncio.run(scenario())
    received = [email.message_from_bytes(m) for m in smtp.sink.messages]
    assert len(received) == 5 + 1 + 8 + 2
    assert received[0]["From"] == "=?utf-8?b?5YWz57O7?= <news@guanxi.example>"


def test_smtp_data_keeps_periods_and_maps_its_replies(smtp: SmtpHarness) -> None:
    """The message goes after DATA dot-stuffed (lines of periods arrive as written); a refusal
    of the message itself maps like any reply and leaves the connection usable."""
    text = ".\n..\n.hidden\nend.\n" + "x" * 75 + ".y\n"  # the last line folds before ".y"

    async def scenario() -> None:
        async with SmtpConnector(SmtpConfig.model_validate(smtp.settings)) as c:
            await c.send(replace(outbound("dots"), text=text, html=None))
            smtp.sink.data_replies.append("554 5.7.1 Message refused as spam")
            with pytest.raises(PermanentSendError, match=r"554 5\.7\.1") as refused:
                await c.send(outbound("spam"))
            assert refused.value.code == "smtp_5xx"
            smtp.sink.data_replies.append("452 4.3.1 Insufficient storage")
            with pytest.raises(RetryableSendError) as later:
                await c.send(outbound("full"))
            assert later.value.scope == "message"
            await c.send(outbound("after"))
            assert c.connections_opened == smtp.sink.connections == 1

    asyncio.run(scenario())
    first, after = (email.message_from_bytes(m, policy=policy.default) for m in smtp.sink.messages)
    assert isinstance(first, EmailMessage)
    assert first.get_content().replace("\r\n", "\n") == text
    assert isinstance(after, EmailMessage)
    html = after.get_body(("html",))
    assert html is not None
    assert html.get_content() == "<p>你好 after</p>"


@given(
    st.text(alphabet=st.sampled_from(".a\r\n 张"), max_size=300),
    st.text(alphabet=st.sampled_from(".b\n"), max_size=100),
)
def test_for_data_is_what_aiosmtplib_would_send(text: str, html: str) -> None:
    raw = Prebuilt("a@guanxi.example").build(
        key="k", to="b@example.com", subject=".s", html=html or None, text=text
    )
    expected = PERIOD_REGEX.sub(b"..", normalize_message_line_endings(raw)) + b".\r\n"
    assert for_data(raw) == expected


def test_smtp_retires_connections_after_max_per_connection(smtp: SmtpHarness) -> None:
    async def scenario() -> None:
        settings = smtp.settings | {"pool_size": 1, "max_per_connection": 3}
        async with SmtpConnector(SmtpConfig.model_validate(settings)) as c:
            for i in range(7):
                await c.send(outbound(f"m-{i}"))

    asyncio.run(scenario())
    assert smtp.sink.connections == 3


def test_smtp_unreachable_server_pauses_the_connector() -> None:
    config = SmtpConfig(
        host="127.0.0.1", port=free_port(), security="none", from_address="a@guanxi.example"
    )

    async def scenario() -> RetryableSendError:
        async with SmtpConnector(config) as c:
            with pytest.raises(RetryableSendError) as caught:
                await c.send(outbound("m"))
            return caught.value

    error = asyncio.run(scenario())
    assert error.scope == "connector"
    assert error.after_s > 0


def test_smtp_refuses_what_cannot_be_mail() -> None:
    config = SmtpConfig(host="127.0.0.1", security="none", from_address="a@guanxi.example")

    async def scenario() -> None:
        async with SmtpConnector(config) as c:
            with pytest.raises(PermanentSendError) as bad:
                await c.send(outbound("m", to="not an address"))
            assert bad.value.code == "invalid_message"

    asyncio.run(scenario())
    with pytest.raises(ValueError, match="email address"):
        SmtpConfig(host="h", from_address="nobody")


def test_smtp_reply_mapping() -> None:
    refused_greeting = _mapped(aiosmtplib.SMTPConnectResponseError(554, "no service"))
    assert isinstance(refused_greeting, RetryableSendError)
    assert refused_greeting.scope == "connector"
    full = _mapped(aiosmtplib.SMTPRecipientRefused(452, "4.2.2 mailbox full", "a@example.com"))
    assert isinstance(full, RetryableSendError)
    assert (full.scope, full.after_s) == ("message", 300.0)
    login = _mapped(aiosmtplib.SMTPAuthenticationError(535, "5.7.8 bad credentials"))
    assert isinstance(login, RetryableSendError)
    assert login.scope == "connector"
    refused = _mapped(aiosmtplib.SMTPDataError(554, "5.7.1 spam"))
    assert isinstance(refused, PermanentSendError)
    assert refused.code == "smtp_5xx"
    assert "554 5.7.1 spam" in str(refused)


def test_domain_throttle() -> None:
    throttle = Pacer({"qq.com": 2}, default=None)
    assert throttle.reserve("qq.com", 0) == (True, 0.0)
    assert throttle.reserve("qq.com", 0) == (True, 0.0)  # a second's burst: two tokens
    taken, after = throttle.reserve("qq.com", 0)
    assert not taken
    assert 0.4 < after <= 0.5
    assert throttle.reserve("example.com", 0) == (True, 0.0)  # unthrottled domain
    waited, wait = throttle.reserve("qq.com", 1.0)
    assert waited
    assert 0.4 < wait <= 0.5


def test_smtp_throttled_domain_is_handed_back(smtp: SmtpHarness) -> None:
    settings = smtp.settings | {"per_domain_per_s": {"qq.com": 1}, "throttle_max_wait_s": 0}

    async def scenario() -> RetryableSendError:
        async with SmtpConnector(SmtpConfig.model_validate(settings)) as c:
            await c.send(outbound("q-1", to="10001@qq.com"))
            await c.send(outbound("o-1", to="a@example.com"))
            with pytest.raises(RetryableSendError) as caught:
                await c.send(outbound("q-2", to="10002@QQ.com"))
            return caught.value

    error = asyncio.run(scenario())
    assert error.scope == "recipient_domain"
    assert 0 < error.after_s <= 1
    assert len(smtp.sink.messages) == 2


# --- the sandbox beyond the contract ---------------------------------------------------------


def test_sandbox_records_once_per_key_and_fails_by_address() -> None:
    box = mailbox("sandbox-test")
    box.clear()
    connector = SandboxConnector.from_settings(
        {"mailbox": "sandbox-test", "fail_addresses": {"+8613800000000": "permanent"}}
    )

    async def scenario() -> None:
        await connector.send(outbound("s-1", channel="sms", to="+8613900000000"))
        await connector.send(outbound("s-1", channel="sms", to="+8613900000000"))
        with pytest.raises(PermanentSendError) as refused:
            await connector.send(outbound("s-2", channel="sms", to="+8613800000000"))
        assert refused.value.code == "sandbox_rejected"

    asyncio.run(scenario())
    (delivery,) = box.deliveries
    assert (delivery.message.channel, delivery.attempts) == ("sms", 2)
    assert box.sent == [outbound("s-1", channel="sms", to="+8613900000000")]


def test_sandbox_callbacks_are_signed() -> None:
    connector = SandboxConnector.from_settings({"webhook_secret": "s3cret"})
    events = [
        InboundEvent("delivered", "+8613900000000", "sandbox-abc"),
        InboundEvent("message_in", "openid-1", None, properties={"text": "你好"}),
    ]
    body, headers = callback(events, "s3cret")
    assert connector.parse_inbound(body, headers) == events
    with pytest.raises(InboundRejected):
        connector.parse_inbound(body, {})
    forged, _ = callback(events[:1], "guess")
    with pytest.raises(InboundRejected):
        connector.parse_inbound(forged, headers)
    unsigned = SandboxConnector.from_settings({})
    assert unsigned.parse_inbound(body, {}) == events
