from __future__ import annotations

import pytest

from guanxi.contact import normalise
from guanxi.errors import InvalidValue


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13812345678", "+8613812345678"),
        ("+86 138 1234 5678", "+8613812345678"),
        ("0086-138-1234-5678", "+8613812345678"),
        ("８６１３８１２３４５６７８", "+8613812345678"),
        ("(010) 6552 9988", "+861065529988"),
        ("+1 650-253-0000", "+16502530000"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phones_become_e164(raw: str, e164: str) -> None:
    assert normalise.phone(raw) == e164


@pytest.mark.parametrize("raw", ["12345", "1381234567", "phone", "+86 999 9999 9999", ""])
def test_bad_phones_are_refused(raw: str) -> None:
    with pytest.raises(InvalidValue):
        normalise.phone(raw)


def test_emails_domains_and_names() -> None:
    assert normalise.email("  Li.Lei@Example.CN ") == "li.lei@example.cn"
    assert normalise.email("ｌｉ＠ｅｘａｍｐｌｅ．ｃｎ") == "li@example.cn"
    for bad in ("li@", "@x.cn", "li lei@x.cn", "li@localhost"):
        with pytest.raises(InvalidValue):
            normalise.email(bad)
    assert normalise.domain("https://www.Acme.com.cn/about") == "acme.com.cn"
    assert normalise.domain("sales@acme.io") == "acme.io"
    with pytest.raises(InvalidValue):
        normalise.domain("not a domain")
    assert normalise.name_key("  Li   LEI ") == "li lei"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("上海华科科技有限公司", "上海华科科技"),
        ("Acme Co., Ltd.", "ACME"),
        ("Acme Inc", "acme"),
        ("北京云联 集团股份有限公司", "北京云联"),
    ],
)
def test_company_names_meet(a: str, b: str) -> None:
    assert normalise.company_key(a) == normalise.company_key(b)
