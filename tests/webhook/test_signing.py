"""The signature scheme: what a receiver recomputes, and what it must refuse."""

from __future__ import annotations

import hashlib
import hmac

from guanxi.webhook import signing

SECRET = "whsec_test"
BODY = '{"id":"1","type":"page_view","data":{"城市":"上海"}}'.encode()
T = 1_767_225_600


def test_the_header_is_the_documented_hmac() -> None:
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signing.sign(SECRET, T, BODY) == f"t={T},v1={expected}"
    assert signing.sign(SECRET, T, BODY.decode()) == signing.sign(SECRET, T, BODY)
    assert signing.headers(SECRET, T, BODY, "page_view", 42) == {
        "Guanxi-Signature": f"t={T},v1={expected}",
        "Guanxi-Timestamp": str(T),
        "Guanxi-Event": "page_view",
        "Guanxi-Delivery": "42",
    }


def test_verify_accepts_the_signature_within_the_tolerance() -> None:
    header = signing.sign(SECRET, T, BODY)
    assert signing.verify(SECRET, header, BODY, T)
    assert signing.verify(SECRET, header, BODY, T + 300)
    assert signing.verify(SECRET, header, BODY, T - 300)
    assert signing.verify(SECRET, header, BODY, T + 3600, tolerance_s=3600)
    # a second v1 (another secret, during a rotation) does not get in the way
    other = signing.digest("whsec_other", T, BODY)
    assert signing.verify(SECRET, f"{header},v1={other}", BODY, T)
    assert signing.verify("whsec_other", f"t={T}, v1={other}, v1=00", BODY, T)


def test_verify_refuses_what_was_not_signed_so() -> None:
    header = signing.sign(SECRET, T, BODY)
    assert not signing.verify("whsec_wrong", header, BODY, T)
    assert not signing.verify(SECRET, header, BODY + b" ", T)
    assert not signing.verify(SECRET, header, BODY, T + 301)  # replayed later
    assert not signing.verify(SECRET, header, BODY, T - 301)
    v1 = header.split("v1=")[1]
    assert not signing.verify(SECRET, f"t={T + 1},v1={v1}", BODY, T)  # timestamp changed
    for bad in ("", f"v1={v1}", f"t={T}", f"t=x,v1={v1}", f"t={T},v0={v1}", "garbage"):
        assert not signing.verify(SECRET, bad, BODY, T), bad
