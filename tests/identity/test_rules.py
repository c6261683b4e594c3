from __future__ import annotations

import pytest

from guanxi.errors import InvalidValue
from guanxi.identity import rules
from guanxi.identity.rules import Candidate, Key, Kind


def test_keys_normalise_and_namespaces() -> None:
    assert rules.key("email", " A@B.CN ") == Key(Kind.email, "", "a@b.cn")
    assert rules.key("phone", "138 0000 0000", namespace="ignored") == Key(
        Kind.phone, "", "+8613800000000"
    )
    assert rules.key("wechat_openid", "o1", "wxapp") == Key(Kind.wechat_openid, "wxapp", "o1")
    with pytest.raises(InvalidValue):
        rules.key("wechat_openid", "o1")  # which Official Account?
    with pytest.raises(InvalidValue):
        rules.key("fax", "123")


def test_singular_kinds_conflict_plural_ones_do_not() -> None:
    a = [Key(Kind.wechat_unionid, "", "U1"), Key(Kind.email, "", "a@x.cn")]
    b = [Key(Kind.wechat_unionid, "", "U2"), Key(Kind.email, "", "b@x.cn")]
    assert rules.conflicts(a, b) == [Key(Kind.wechat_unionid, "", "U2")]
    assert (
        rules.conflicts(a, [Key(Kind.email, "", "c@x.cn"), Key(Kind.wechat_unionid, "", "U1")])
        == []
    )
    # openids of two different Official Accounts are two identities, not a conflict
    assert (
        rules.conflicts(
            [Key(Kind.wechat_openid, "oa1", "x")], [Key(Kind.wechat_openid, "oa2", "y")]
        )
        == []
    )


def test_survivor_is_identified_then_oldest_whatever_the_order() -> None:
    anonymous_old, identified_new = Candidate(1, True), Candidate(9, False)
    assert rules.survivor(anonymous_old, identified_new) == (identified_new, anonymous_old)
    assert rules.survivor(identified_new, anonymous_old) == (identified_new, anonymous_old)
    assert rules.survivor(Candidate(5, False), Candidate(3, False))[0].id == 3


def test_merge_fields_fills_gaps_only() -> None:
    survivor = {"name": "李雷", "title": None, "city": "", "custom": None}
    merged = {"name": "Li Lei", "title": "CTO", "city": "上海", "country": None}
    assert rules.merge_fields(survivor, merged) == {"title": "CTO", "city": "上海"}
