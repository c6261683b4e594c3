"""Email over SMTP (any relay: Postfix, Aliyun DirectMail, Tencent SES, Amazon SES, Exchange).

Sending many messages fast over SMTP means keeping connections: a handshake (TCP, TLS, EHLO,
AUTH) costs more than a transaction. The connector keeps up to ``pool_size`` persistent
connections and runs one transaction at a time on each; a connection the server closed while
idle is reopened before use, one that dies under a transaction is dropped, and one is retired
after ``max_per_connection`` messages (relays cap messages per session). After a refused
transaction the connection is reset (RSET) before its next one.

Replies map to the contract: 4xx and network failures are retryable, 5xx permanent
(``smtp_5xx``, the server's reply in the message). A failed login or a refused connection
affects every message, so it says so (``scope="connector"``). Each recipient domain can be
throttled (``per_domain_per_s``, e.g. ``{"qq.com": 20}``), so a large list does not trip the
receiving provider's rate limits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import ClassVar, Literal

import aiosmtplib
from pydantic import BaseModel, Field, SecretStr, field_validator

from guanxi.channels.base import (
    Connector,
    InboundEvent,
    OutboundMessage,
    PermanentSendError,
    RetryableSendError,
    SendResult,
    register,
)
from guanxi.channels.email import dsn
from guanxi.channels.email.mime import Prebuilt, check_address
from guanxi.i18n import N_
from guanxi.kit.pacing import Pacer

_RETRY_NETWORK_S = 30.0  # a dropped connection or a timeout: soon, on a fresh connection
_RETRY_REPLY_S = 300.0  # a 4xx reply: greylisting asks for minutes, not seconds
_RETRY_LOGIN_S = 300.0  # the account is refused: someone has to fix the settings


class SmtpConfig(BaseModel):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    verify_tls: bool = True
    username: str | None = None
    password: SecretStr | None = None
    from_address: str
    from_name: str | None = None
    return_path: str | None = Field(
        default=None, description="Envelope sender (where bounces go); the From address if unset."
    )
    message_id_domain: str | None = Field(
        default=None, description="Domain of Message-IDs; the From address's domain if unset."
    )
    helo_name: str | None = None
    pool_size: int = Field(default=4, ge=1, le=64)
    max_per_connection: int = Field(default=500, ge=1)
    timeout_s: float = Field(default=30.0, gt=0)
    per_domain_per_s: dict[str, float] = Field(default_factory=dict)
    default_per_domain_per_s: float | None = Field(default=None, gt=0)
    throttle_max_wait_s: float = Field(
        default=1.0,
        ge=0,
        description="A send waits this long at most for its domain's throttle, else it is "
        "handed back to the dispatcher (RetryableSendError, scope recipient_domain).",
    )

    @field_validator("from_address", "return_path")
    @classmethod
    def _deliverable(cls, value: str | None) -> str | None:
        return None if value is None else check_address(value)


class _Lease:
    """One pooled connection, lent to one transaction at a time."""

    __slots__ = ("broken", "fresh", "opened", "pool", "smtp", "used")

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.smtp = pool.client()
        self.used = 0  # transactions on this connection
        self.opened = self.fresh = self.broken = False

    async def connect(self) -> None:
        """Open a new connection (a closed client keeps stale EHLO and TLS state, so a new
        client each time)."""
        if self.opened:
            self.smtp.close()
            self.smtp = self.pool.client()
        self.opened = self.fresh = True
        self.used = 0
        self.pool.connections_opened += 1
        try:
            await self.smtp.connect()
        except BaseException:
            self.broken = True
            raise


class _Pool:
    """At most ``size`` SMTP connections, the idle ones kept for the next transaction."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._idle: list[_Lease] = []
        self._slots = asyncio.Semaphore(config.pool_size)
        self.connections_opened = 0

    def client(self) -> aiosmtplib.SMTP:
        c = self.config
        return aiosmtplib.SMTP(
            hostname=c.host,
            port=c.port,
            username=c.username,
            password=c.password.get_secret_value() if c.password else None,
            local_hostname=c.helo_name,
            timeout=c.timeout_s,
            use_tls=c.security == "ssl",
            start_tls=c.security == "starttls",
            validate_certs=c.verify_tls,
        )

    @asynccontextmanager
    async def lease(self) -> AsyncIterator[_Lease]:
        async with self._slots:
            lease = self._idle.pop() if self._idle else _Lease(self)
            try:
                if not lease.smtp.is_connected:
                    await lease.connect()
                yield lease
            except aiosmtplib.SMTPResponseException:
                raise  # a refused transaction, already reset: the connection is fine
            except BaseException:
                lease.broken = True
                raise
            finally:
                await self._give_back(lease)

    async def _give_back(self, lease: _Lease) -> None:
        lease.used += 1
        lease.fresh = False
        if lease.broken or not lease.smtp.is_connected:
            lease.smtp.close()
        elif lease.used >= self.config.max_per_connection:
            await _quit(lease.smtp)
        else:
            self._idle.append(lease)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        await asyncio.gather(*(_quit(lease.smtp) for lease in idle))


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    try:
        await smtp.quit()
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()


@register
class SmtpConnector(Connector):
    name: ClassVar[str] = "smtp"
    Config: ClassVar[type[BaseModel]] = SmtpConfig
    config: SmtpConfig

    def __init__(self, config: SmtpConfig) -> None:
        super().__init__(config)
        # sends beyond the pool build their MIME while the others talk to the server
        self.max_in_flight = 2 * config.pool_size
        self.throttle = Pacer(config.per_domain_per_s, config.default_per_domain_per_s)
        self.return_path = check_address(config.return_path or config.from_address)
        self._senders: dict[tuple[str, str | None], Prebuilt] = {}
        self._pool: _Pool | None = None

    @property
    def connections_opened(self) -> int:
        return self._pool.connections_opened if self._pool else 0

    async def open(self) -> None:
        if self._pool is None:
            self._pool = _Pool(self.config)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def _sender(self, message: OutboundMessage) -> Prebuilt:
        address = message.from_address or self.config.from_address
        name = message.from_name if message.from_name is not None else self.config.from_name
        found = self._senders.get((address, name))
        if found is None:
            found = Prebuilt(address, name, domain=self.config.message_id_domain)
            self._senders[address, name] = found
        return found

    async def send(self, message: OutboundMessage) -> SendResult:
        if self._pool is None:
            raise RuntimeError("SmtpConnector.send before open()")
        try:
            to = check_address(message.to)
            sender = self._sender(message)
            wire = for_data(
                sender.build(
                    key=message.key,
                    to=to,
                    subject=message.subject,
                    html=message.html,
                    text=message.text,
                    headers=message.headers,
                )
            )
        except ValueError as exc:
            raise PermanentSendError(
                N_("The message cannot be sent as email: {reason}"),
                code="invalid_message",
                reason=str(exc),
            ) from exc
        domain = to.rpartition("@")[2]
        taken, wait = self.throttle.reserve(domain, self.config.throttle_max_wait_s)
        if not taken:
            raise RetryableSendError(
                N_("Sending to {domain} is throttled; the message waits its turn."),
                after_s=wait,
                scope="recipient_domain",
                domain=domain,
            )
        if wait:
            await asyncio.sleep(wait)
        message_id = sender.message_id(message.key)
        try:
            async with self._pool.lease() as lease:
                await self._transaction(lease, to, wire)
        except aiosmtplib.SMTPException as exc:
            raise _mapped(exc) from exc
        except OSError as exc:  # refused, reset, unreachable, TLS failures
            raise RetryableSendError(
                N_("The mail server could not be reached: {reason}"),
                after_s=_RETRY_NETWORK_S,
                scope="connector",
                reason=str(exc) or type(exc).__name__,
            ) from exc
        return SendResult(provider_id=message_id)

    async def _transaction(self, lease: _Lease, to: str, wire: bytes) -> None:
        """MAIL, RCPT, DATA. A reused connection that turns out dead (or told to close, 421)
        before the server accepted anything is replaced once: nothing was sent, so nothing can
        be duplicated."""
        try:
            await lease.smtp.mail(self.return_path)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPResponseException) as exc:
            stale = isinstance(exc, aiosmtplib.SMTPServerDisconnected) or exc.code == 421
            if lease.fresh or not stale:
                await _reset(lease)
                raise
            await lease.connect()
            await lease.smtp.mail(self.return_path)
        try:
            await lease.smtp.rcpt(to)
            await _data(lease.smtp, wire)
        except aiosmtplib.SMTPResponseException:
            await _reset(lease)
            raise

    def parse_inbound(self, body: bytes, headers: Mapping[str, str]) -> list[InboundEvent]:
        """Bounces (RFC 3464) and complaints (ARF) received as mail; see :mod:`.dsn`."""
        return dsn.parse(body)


def for_data(message: bytes) -> bytes:
    """What goes on the wire after DATA (RFC 5321 4.5.2): each line that starts with a period
    gets another, and a line with a lone period ends the message. ``message`` is CRLF
    throughout and ends with CRLF (:meth:`Prebuilt.build` writes it so), so a line starts
    exactly after a CRLF and bytes methods do it: ~0.04 ms for a 50 KB message, where
    ``SMTP.data`` normalises line endings and then stuffs periods with two regular expressions
    (~0.5 ms)."""
    if message.startswith(b"."):
        message = b"." + message
    return message.replace(b"\r\n.", b"\r\n..") + b".\r\n"


async def _data(smtp: aiosmtplib.SMTP, wire: bytes) -> None:
    """DATA with a message :func:`for_data` made ready: ``SMTP.data`` without its regular
    expressions. A timeout or a dropped connection raises what ``SMTP.data`` raises, and the
    pool drops that connection. No lock is taken for the message itself: the pool lends a
    connection to one transaction at a time."""
    reply = await smtp.execute_command(b"DATA")
    if reply.code != 354:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)
    if smtp.protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    smtp.protocol.write(wire)
    reply = await smtp.protocol.read_response(timeout=smtp.timeout)
    if reply.code != 250:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)


async def _reset(lease: _Lease) -> None:
    """RSET after a refused transaction, so the next one starts clean; a connection that does
    not answer it is not reused."""
    if not lease.smtp.is_connected:
        return
    try:
        await lease.smtp.rset()
    except (aiosmtplib.SMTPException, OSError):
        lease.broken = True


def _mapped(exc: aiosmtplib.SMTPException) -> RetryableSendError | PermanentSendError:
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return RetryableSendError(
            N_("The mail server refused the login: {reply}"),
            after_s=_RETRY_LOGIN_S,
            scope="connector",
            reply=f"{exc.code} {exc.message}",
        )
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError | aiosmtplib.SMTPHeloError):
        return RetryableSendError(  # refused at the greeting or EHLO: a 5xx there is no verdict
            N_("The mail server could not be reached: {reason}"),  # on the message
            after_s=_RETRY_NETWORK_S,
            scope="connector",
            reason=f"{exc.code} {exc.message}",
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        reply = f"{exc.code} {exc.message}"
        if 500 <= exc.code < 600:
            return PermanentSendError(
                N_("The mail server refused the message: {reply}"), code="smtp_5xx", reply=reply
            )
        return RetryableSendError(
            N_("The mail server asked to try again later: {reply}"),
            after_s=_RETRY_NETWORK_S if exc.code == 421 else _RETRY_REPLY_S,
            scope="connector" if exc.code == 421 else "message",
            reply=reply,
        )
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return RetryableSendError(
            N_("The mail server does not support what the settings require: {reason}"),
            after_s=_RETRY_LOGIN_S,
            scope="connector",
            reason=str(exc),
        )
    # not reached: the server is down for everyone; disconnected or timed out mid-transaction:
    # this message is retried (on a new connection)
    return RetryableSendError(
        N_("The mail server could not be reached: {reason}"),
        after_s=_RETRY_NETWORK_S,
        scope="connector" if isinstance(exc, aiosmtplib.SMTPConnectError) else "message",
        reason=str(exc) or type(exc).__name__,
    )
