"""Normalising what people type: phones to E.164, emails, names and company names (pure).

Phones go through ``phonenumbers`` (default region CN), except Chinese mobiles written the usual
ways (``13812345678``, ``+86 138 1234 5678``, ``0086-138…``), which a regular expression turns into
E.164 forty times faster — an import of a million rows spends its time elsewhere.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers

from guanxi.errors import InvalidValue
from guanxi.i18n import N_

_CN_MOBILE = re.compile(r"^(?:\+?86|0086)?(1[3-9]\d{9})$")
_PHONE_NOISE = re.compile(r"[\s\-().（）]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_COMPANY_SUFFIXES = re.compile(
    r"(股份有限公司|有限责任公司|有限公司|集团|公司|co\.?,?\s*ltd\.?|co\.?|ltd\.?|inc\.?|llc|gmbh|corp\.?|corporation|limited)$"
)
_SPACE = re.compile(r"\s+")


def phone(value: str, region: str = "CN") -> str:
    """E.164 (``+8613812345678``) or InvalidValue."""
    raw = _PHONE_NOISE.sub("", unicodedata.normalize("NFKC", value))
    match = _CN_MOBILE.match(raw)
    if match:
        return "+86" + match.group(1)
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue(N_("not a phone number: {value}"), value=value) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue(N_("not a valid phone number: {value}"), value=value)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email(value: str) -> str:
    """Lower-cased, trimmed, full-width characters folded; InvalidValue when not an address."""
    text = unicodedata.normalize("NFKC", value).strip().lower()
    if len(text) > 254 or not _EMAIL.match(text):
        raise InvalidValue(N_("not an email address: {value}"), value=value)
    return text


def domain(value: str) -> str:
    """A company's web domain from a URL, an email or a bare domain: ``acme.com.cn``."""
    text = unicodedata.normalize("NFKC", value).strip().lower()
    text = text.split("@")[-1]
    text = re.sub(r"^[a-z]+://", "", text).split("/")[0].split(":")[0]
    text = text.removeprefix("www.")
    if not re.match(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$", text):
        raise InvalidValue(N_("not a domain: {value}"), value=value)
    return text


def name_key(value: str) -> str:
    """A person's name for matching: NFKC, lower-case, single spaces."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", value).strip().lower())


@lru_cache(maxsize=65536)  # an import repeats the same companies many times
def company_key(value: str) -> str:
    """A company name for matching: ``上海华科科技有限公司`` and ``上海华科科技`` meet, as do
    ``Acme Co., Ltd.`` and ``ACME``."""
    text = unicodedata.normalize("NFKC", value).strip().lower()
    text = re.sub(r"[\s,.，。()（）]+$", "", text)
    for _ in range(2):
        text = _COMPANY_SUFFIXES.sub("", text).strip(" ,.，")
    return re.sub(r"[\s\-_,.，。·()（）]", "", text)
