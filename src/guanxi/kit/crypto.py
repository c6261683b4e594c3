"""Secrets kept at rest (channel passwords, API keys, webhook signing secrets): sealed with a key
derived from the installation's secret key, so a copy of the database alone reveals none."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


def _fernet(secret_key: str) -> Fernet:
    key = hashlib.sha256(b"guanxi-sealed-secrets:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret_key: str, plaintext: str) -> str:
    return _fernet(secret_key).encrypt(plaintext.encode()).decode()


def unseal(secret_key: str, token: str) -> str:
    """The sealed text; ``ValueError`` when the token was sealed with another key or altered."""
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("sealed with another secret key, or altered") from exc
