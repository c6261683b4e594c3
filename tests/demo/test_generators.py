"""Demo generators: deterministic, realistic, valid identities."""

from __future__ import annotations

import re

from guanxi.demo.generators import companies, consumers

E164_CN = re.compile(r"^\+861[3-9]\d{9}$")


def test_same_seed_same_data() -> None:
    assert list(consumers(7, 50)) == list(consumers(7, 50))
    assert list(consumers(7, 5)) != list(consumers(8, 5))


def test_consumers_have_mobiles_emails_and_both_languages() -> None:
    people = list(consumers(1, 2000))
    assert all(E164_CN.match(p.phone) for p in people)
    assert all("@" in p.email for p in people)
    languages = {p.language for p in people}
    assert languages == {"zh_CN", "en"}
    chinese = [p for p in people if p.language == "zh_CN"]
    assert all(re.match(r"^[\u4e00-\u9fff]{2,3}$", p.name) for p in chinese)


def test_companies_have_buying_committees_with_an_org_chart() -> None:
    for company in companies(3, 200):
        roles = [m.role for m in company.committee]
        assert 3 <= len(roles) <= 8
        assert roles[0] == "decision_maker"
        assert {"influencer", "champion"} <= set(roles)
        assert company.committee[0].reports_to is None
        for i, member in enumerate(company.committee[1:], start=1):
            assert member.reports_to is not None
            assert 0 <= member.reports_to < i
            assert member.person.email.endswith("@" + company.domain)
        assert company.tier in ("KA", "mid", "SMB")
