"""Tracked redirect links, pure: a signed token carries the target URL (and, when the link was
made for one person, their contact id), so the redirect endpoint stores nothing ahead and can
never be used to send people to a page nobody chose (an open redirect).

The same signing serves other links that must carry facts unforged (unsubscribe links): each
kind signs with its own ``purpose``, which is part of the MAC, so a token made for one purpose
never verifies as another's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

_TAG = 12  # bytes of HMAC-SHA256 kept: 96 bits, enough against forgery of a link


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, purpose: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), f"{purpose}:".encode() + body, hashlib.sha256).digest()[:_TAG]


def sign(secret: str, payload: dict[str, Any], purpose: str = "redirect") -> str:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return f"{_b64(body)}.{_b64(_mac(secret, purpose, body))}"


def verify(secret: str, token: str, purpose: str = "redirect") -> dict[str, Any] | None:
    """The payload of a token this secret signed for ``purpose``, or None."""
    try:
        body_text, tag_text = token.split(".", 1)
        body, tag = _unb64(body_text), _unb64(tag_text)
    except (ValueError, TypeError):
        return None
    if not hmac.compare_digest(tag, _mac(secret, purpose, body)):
        return None
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None
