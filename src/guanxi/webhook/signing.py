"""How a webhook request proves where it comes from, pure: no clock, no I/O.

Every request carries these headers:

- ``Guanxi-Signature: t=<unix seconds>,v1=<hex>``, where ``<hex>`` is
  ``HMAC-SHA256(secret, f"{t}.{body}")`` over the exact bytes of the body;
- ``Guanxi-Timestamp: <unix seconds>`` (the same ``t``, for logs and routing);
- ``Guanxi-Event: <event type>`` (``ping`` for a test);
- ``Guanxi-Delivery: <delivery id>``, the same on every retry and redelivery of one delivery:
  receivers dedupe on it.

A receiver recomputes the HMAC with the endpoint's secret, compares it in constant time, and
refuses a timestamp further than a few minutes from its own clock, so that a captured request
cannot be replayed later. ``v1`` may appear more than once; any match is enough (room for
signing with two secrets while one is rotated).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE = "Guanxi-Signature"
TIMESTAMP = "Guanxi-Timestamp"
EVENT = "Guanxi-Event"
DELIVERY = "Guanxi-Delivery"
TOLERANCE_S = 300


def _bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


def digest(secret: str, timestamp: int, body: bytes | str) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}.{body}"`` under ``secret``."""
    message = f"{timestamp}.".encode() + _bytes(body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes | str) -> str:
    """The ``Guanxi-Signature`` header value."""
    return f"t={timestamp},v1={digest(secret, timestamp, body)}"


def headers(
    secret: str, timestamp: int, body: bytes | str, event_type: str, delivery_id: int
) -> dict[str, str]:
    """Every guanxi header of one request."""
    return {
        SIGNATURE: sign(secret, timestamp, body),
        TIMESTAMP: str(timestamp),
        EVENT: event_type,
        DELIVERY: str(delivery_id),
    }


def verify(
    secret: str, header: str, body: bytes | str, now: int, tolerance_s: int = TOLERANCE_S
) -> bool:
    """Whether ``header`` (a ``Guanxi-Signature``) signs ``body`` with ``secret`` at a time
    within ``tolerance_s`` seconds of ``now`` (unix seconds)."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance_s:
        return False
    expected = digest(secret, timestamp, body)
    return any(hmac.compare_digest(expected, s) for s in signatures)
