from __future__ import annotations

from guanxi.kit.secrets import digest, hash_password, new_token, verify_password


def test_passwords_hash_with_argon2_and_verify() -> None:
    h = hash_password("s3cret-密码")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "s3cret-密码")
    assert not verify_password(h, "s3cret")
    assert not verify_password(None, "anything")
    assert not verify_password("not a hash", "anything")


def test_tokens_are_random_and_digests_stable() -> None:
    assert new_token() != new_token()
    assert digest("abc") == digest("abc") != digest("abd")
    assert len(digest("abc")) == 64
