"""The sandbox: an in-process connector for every channel that cannot be reached from here (SMS,
WeCom, WeChat, WhatsApp until their own connectors), for the demo and for tests.

It behaves like a provider with an idempotency parameter: a send is recorded in a named
:class:`Mailbox` once per key (a repeat after a crash counts an attempt, not a second delivery)
and answered with an id derived from the key. It fails on request: the next sends
(:meth:`Mailbox.fail_next`) or every send to an address (``fail_addresses`` in the settings, which
also works from a worker process that a test cannot reach into). Its callbacks are JSON,
``{"sandbox_events": [{"kind", "address", "message_key", "at", "properties"}]}``, signed with
HMAC-SHA256 in ``X-Sandbox-Signature`` when a ``webhook_secret`` is set.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal, get_args

from pydantic import BaseModel, Field, SecretStr

from guanxi.channels.base import (
    Connector,
    InboundEvent,
    InboundKind,
    InboundRejected,
    OutboundMessage,
    PermanentSendError,
    RetryableSendError,
    SendResult,
    key_digest,
    register,
)
from guanxi.i18n import N_

Failure = Literal["retryable", "permanent"]
SIGNATURE_HEADER = "x-sandbox-signature"
_KINDS: frozenset[str] = frozenset(get_args(InboundKind))


@dataclass
class Delivery:
    message: OutboundMessage
    provider_id: str
    attempts: int = 1


class Mailbox:
    """What the sandbox connectors sharing one mailbox name sent, and the failures queued for
    their next sends."""

    def __init__(self) -> None:
        self._deliveries: dict[str, Delivery] = {}
        self._failures: deque[Failure] = deque()

    @property
    def deliveries(self) -> list[Delivery]:
        return list(self._deliveries.values())

    @property
    def sent(self) -> list[OutboundMessage]:
        return [d.message for d in self._deliveries.values()]

    def fail_next(self, failure: Failure, times: int = 1) -> None:
        self._failures.extend([failure] * times)

    def clear(self) -> None:
        self._deliveries.clear()
        self._failures.clear()

    def take_failure(self) -> Failure | None:
        return self._failures.popleft() if self._failures else None

    def record(self, message: OutboundMessage, provider_id: str) -> None:
        found = self._deliveries.get(message.key)
        if found is None:
            self._deliveries[message.key] = Delivery(message, provider_id)
        else:
            found.attempts += 1


_MAILBOXES: dict[str, Mailbox] = {}


def mailbox(name: str = "default") -> Mailbox:
    """The mailbox of this name in this process (made on first use)."""
    return _MAILBOXES.setdefault(name, Mailbox())


class SandboxConfig(BaseModel):
    mailbox: str = "default"
    fail_addresses: dict[str, Failure] = Field(default_factory=dict)
    webhook_secret: SecretStr | None = None
    latency_s: float = Field(default=0.0, ge=0, le=60, description="Simulated provider latency.")
    max_in_flight: int = Field(default=16, ge=1)


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def callback(
    events: Iterable[InboundEvent], secret: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """A callback body and headers as the sandbox "provider" would post them (demo, tests)."""
    items = [
        {
            "kind": e.kind,
            "address": e.address,
            "message_key": e.message_key,
            "at": e.at.isoformat() if e.at else None,
            "properties": e.properties,
        }
        for e in events
    ]
    body = json.dumps({"sandbox_events": items}, ensure_ascii=False).encode()
    return body, ({SIGNATURE_HEADER: sign(secret, body)} if secret else {})


@register
class SandboxConnector(Connector):
    name: ClassVar[str] = "sandbox"
    Config: ClassVar[type[BaseModel]] = SandboxConfig
    config: SandboxConfig

    def __init__(self, config: SandboxConfig) -> None:
        super().__init__(config)
        self.max_in_flight = config.max_in_flight
        self.mailbox = mailbox(config.mailbox)

    async def send(self, message: OutboundMessage) -> SendResult:
        if self.config.latency_s:
            await asyncio.sleep(self.config.latency_s)
        if not message.to.strip():
            raise PermanentSendError(N_("The message has no recipient."), code="invalid_address")
        failure = self.mailbox.take_failure() or self.config.fail_addresses.get(message.to)
        if failure == "retryable":
            raise RetryableSendError(
                N_("The sandbox was told to fail this send for now."), after_s=1.0
            )
        if failure == "permanent":
            raise PermanentSendError(
                N_("The sandbox was told to refuse this message."), code="sandbox_rejected"
            )
        provider_id = f"sandbox-{key_digest(message.key)}"
        self.mailbox.record(message, provider_id)
        return SendResult(provider_id=provider_id, detail=message.channel)

    def parse_inbound(self, body: bytes, headers: Mapping[str, str]) -> list[InboundEvent]:
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return []
        if not isinstance(payload, dict) or not isinstance(payload.get("sandbox_events"), list):
            return []
        secret = self.config.webhook_secret
        if secret is not None:
            given = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE_HEADER, "")
            if not hmac.compare_digest(given, sign(secret.get_secret_value(), body)):
                raise InboundRejected("sandbox callback signature does not match")
        return [e for e in map(_event, payload["sandbox_events"]) if e is not None]


def _event(item: Any) -> InboundEvent | None:
    if not isinstance(item, dict) or item.get("kind") not in _KINDS:
        return None
    try:
        at = datetime.fromisoformat(item["at"]) if item.get("at") else None
    except (TypeError, ValueError):
        at = None
    properties = item.get("properties")
    return InboundEvent(
        kind=item["kind"],
        address=str(item["address"]) if item.get("address") is not None else None,
        message_key=str(item["message_key"]) if item.get("message_key") is not None else None,
        at=at,
        properties=properties if isinstance(properties, dict) else {},
    )
