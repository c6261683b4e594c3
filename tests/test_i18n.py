"""Every string a person reads exists in zh-CN and en; language negotiation."""

from __future__ import annotations

import re

import pytest

from guanxi.i18n import gettext, negotiate, parse_language
from guanxi.i18n_catalog import extracted, missing


def test_every_marked_string_has_a_chinese_translation() -> None:
    assert missing() == []


def test_the_catalogue_is_not_empty_and_keeps_placeholders() -> None:
    messages = [m for m in extracted() if m.id]
    assert len(messages) > 80
    for m in messages:
        if not isinstance(m.id, str):
            continue
        zh = gettext(m.id, "zh_CN")
        assert set(re.findall(r"{\w+}", zh)) == set(re.findall(r"{\w+}", m.id)), m.id
        assert gettext(m.id, "en") == m.id


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh_CN"),
        ("en-GB,en;q=0.9", "en"),
        ("de-DE, en;q=0.3, zh;q=0.5", "zh_CN"),
        ("fr-FR", "en"),
        ("garbage;q=x", "en"),
    ],
)
def test_accept_language(header: str | None, expected: str) -> None:
    assert negotiate(header, "en") == expected


def test_parse_language() -> None:
    assert parse_language("zh-Hans") == "zh_CN"
    assert parse_language("EN_us") == "en"
    assert parse_language("ja") is None
    assert parse_language("") is None
