"""The connector contract: what every channel (email, SMS, WeCom, WeChat, WhatsApp…) offers.

A connector turns one :class:`OutboundMessage` into one provider call and answers with a
:class:`SendResult`, or raises :class:`RetryableSendError` (try again after ``after_s``) or
:class:`PermanentSendError` (never again). It also parses the provider's callbacks (delivery
receipts, bounces, complaints, replies) into :class:`InboundEvent` values. Connectors hold no
database state: the outbox dispatcher owns retries, backoff and the recorded result, and hands a
repeat of a message the same ``key`` so that the provider sees the same idempotency key
(Message-ID for email) after a crash (DESIGN "Durable work").

``channels/<name>/`` imports only this module and ``guanxi.kit``; each connector class registers
itself with :func:`register` and ``guanxi.channels`` imports them all, so :data:`REGISTRY` is
complete as soon as any ``guanxi.channels`` module is imported.
"""

from __future__ import annotations

import hashlib
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, Self, TypeVar

from pydantic import BaseModel, SecretStr

from guanxi.i18n import N_, Message

InboundKind = Literal[
    "delivered", "bounced", "complained", "opened", "clicked", "message_in", "unsubscribed"
]
RetryScope = Literal["message", "recipient_domain", "connector"]


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to one recipient, fully rendered. ``key`` is the outbox idempotency key:
    unique per message, identical on every attempt at that message."""

    key: str
    channel: str
    to: str
    subject: str | None = None
    html: str | None = None
    text: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    from_address: str | None = None
    from_name: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    """``provider_id`` is what the provider will quote back in callbacks (email: the
    Message-ID, angle brackets included); store it to match inbound events to messages."""

    provider_id: str | None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """Something a provider told us. ``message_key`` is our idempotency key when the provider
    echoes it, else the provider id (email: the original Message-ID) when one was found."""

    kind: InboundKind
    address: str | None
    message_key: str | None
    at: datetime | None = None
    properties: dict[str, Any] = field(default_factory=dict)


class SendError(Exception):
    """A send that did not happen. ``message`` is shown to people (translated when shown);
    ``str()`` is the English text for logs."""

    def __init__(self, template: str, /, **params: Any) -> None:
        self.message = Message(template, **params)
        super().__init__(str(self.message))


class RetryableSendError(SendError):
    """Try the same message again, no sooner than ``after_s`` seconds from now.

    ``scope`` says what the wait is about, so that a dispatcher can do better than retrying
    message by message: ``message`` (this message only: greylisting, a full mailbox),
    ``recipient_domain`` (the connector's throttle for the recipient's domain is full: not a
    failed attempt, other messages to that domain wait too) or ``connector`` (nothing can go out
    through this connector now: server down, login refused; pause it for ``after_s``).
    """

    def __init__(
        self, template: str, /, *, after_s: float, scope: RetryScope = "message", **params: Any
    ) -> None:
        super().__init__(template, **params)
        self.after_s = after_s
        self.scope: RetryScope = scope


class PermanentSendError(SendError):
    """The provider refused the message for good; ``code`` is stable (``smtp_5xx``,
    ``invalid_address``, ``invalid_message``, ``sandbox_rejected`` …)."""

    def __init__(self, template: str, /, *, code: str, **params: Any) -> None:
        super().__init__(template, **params)
        self.code = code


class InboundRejected(Exception):
    """A callback that failed its authenticity check (signature, token): answer 403."""


class Connector(ABC):
    """One configured account of one provider. Lifecycle: ``await open()`` once, then any
    number of concurrent ``send`` calls (at most :attr:`max_in_flight` at a time, all on the
    event loop that opened it), then ``await close()``."""

    name: ClassVar[str]
    Config: ClassVar[type[BaseModel]]
    max_in_flight: int = 1

    def __init__(self, config: BaseModel) -> None:
        self.config = config

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Self:
        """Validate stored settings (secrets already decrypted) and build the connector."""
        return cls(cls.Config.model_validate(settings))

    async def open(self) -> None:  # noqa: B027 - a connector without connections needs none
        """Acquire what sending needs (connections, tokens)."""

    async def close(self) -> None:  # noqa: B027
        """Release what :meth:`open` acquired; safe to call twice."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abstractmethod
    async def send(self, message: OutboundMessage) -> SendResult:
        """Send once; raise :class:`RetryableSendError` or :class:`PermanentSendError`."""

    @abstractmethod
    def parse_inbound(self, body: bytes, headers: Mapping[str, str]) -> list[InboundEvent]:
        """Events in a callback body; ``[]`` for a body that is not this provider's kind.
        Raise :class:`InboundRejected` when the body fails an authenticity check."""


REGISTRY: dict[str, type[Connector]] = {}

C = TypeVar("C", bound=type[Connector])


def register(cls: C) -> C:
    """Class decorator: make a connector reachable by its ``name`` through
    :func:`connector_for`."""
    if cls.name in REGISTRY:
        raise ValueError(f"two connectors named {cls.name!r}")
    REGISTRY[cls.name] = cls
    return cls


def connector_for(kind: str) -> type[Connector]:
    try:
        return REGISTRY[kind]
    except KeyError:
        raise UnknownConnector(kind) from None


class UnknownConnector(LookupError):
    def __init__(self, kind: str) -> None:
        self.message = Message(N_("There is no connector of kind {kind}."), kind=kind)
        super().__init__(str(self.message))


def secret_fields(config: type[BaseModel]) -> list[str]:
    """Names of the settings typed ``SecretStr`` (or ``SecretStr | None``): the ones the caller
    encrypts at rest and never shows back."""
    names = []
    for name, info in config.model_fields.items():
        annotation = info.annotation
        union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
        args = typing.get_args(annotation) if union else ()
        if annotation is SecretStr or SecretStr in args:
            names.append(name)
    return names


def key_digest(key: str) -> str:
    """32 hex digits naming an idempotency key: stable across processes and restarts."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def message_id(key: str, domain: str) -> str:
    """The Message-ID of the message with idempotency key ``key``: a repeat after a crash
    carries the same one, so receivers and our bounce matching see one message."""
    return f"<{key_digest(key)}@{domain}>"
