"""Import rows, pure: the targets a column can map to, suggested mappings, and parsing one row
into contact fields, identities and an account link — or a reason it cannot be imported."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from guanxi.contact import fields as custom_fields
from guanxi.contact import normalise
from guanxi.contact.schemas import STANDARD_FIELDS
from guanxi.errors import InvalidValue
from guanxi.i18n import N_, Message
from guanxi.identity import rules
from guanxi.identity.rules import Key
from guanxi.models import CustomField

# The standard fields a column can fill (the owner comes by email, the time zone not by import).
STANDARD = tuple(f for f in STANDARD_FIELDS if f not in ("owner_id", "timezone"))
ACCOUNT = ("account.name", "account.domain", "account.role", "account.title")
ROLES = {"decision_maker", "influencer", "user", "procurement", "champion"}
GENDERS = {
    "男": "male",
    "m": "male",
    "male": "male",
    "女": "female",
    "f": "female",
    "female": "female",
    "其他": "other",
    "other": "other",
}

# Header words (zh and en) → target, for the suggested mapping.
SYNONYMS = {
    "name": ["name", "姓名", "名字", "联系人", "full name", "contact"],
    "email": ["email", "e-mail", "邮箱", "电子邮箱", "邮件", "mail"],
    "phone": ["phone", "mobile", "手机", "手机号", "手机号码", "电话", "联系电话", "tel", "cell"],
    "title": ["title", "job title", "职位", "职务", "岗位"],
    "gender": ["gender", "sex", "性别"],
    "city": ["city", "城市"],
    "province": ["province", "state", "省份", "省"],
    "country": ["country", "国家"],
    "language": ["language", "语言"],
    "source": ["source", "来源", "渠道来源"],
    "stage": ["stage", "lifecycle", "阶段", "生命周期"],
    "account.name": [
        "company",
        "account",
        "公司",
        "公司名称",
        "企业",
        "企业名称",
        "单位",
        "organization",
    ],
    "account.domain": ["domain", "website", "网址", "公司网址", "域名", "官网"],
    "account.role": ["role", "角色", "决策角色"],
    "identity.wechat_unionid": ["unionid", "wechat unionid"],
    "identity.whatsapp": ["whatsapp"],
}


def _squash(text: str) -> str:
    return re.sub(r"[\s_\-:：()（）]", "", text.strip().lower())


NONE: Mapping[str, CustomField] = MappingProxyType({})


def suggest(
    headers: list[str],
    custom: Mapping[str, CustomField],
    account_custom: Mapping[str, CustomField] = NONE,
) -> dict[str, str]:
    """A mapping guessed from the headers: exact target names, synonyms, custom field keys or
    labels (the contact's before the account's). Columns it cannot place map to ``ignore``."""
    lookup: dict[str, str] = {}
    for target, words in SYNONYMS.items():
        for word in [target, *words]:
            lookup.setdefault(_squash(word), target)
    for key, f in custom.items():
        lookup.setdefault(_squash(key), f"custom.{key}")
        lookup.setdefault(_squash(f.label), f"custom.{key}")
    for key, f in account_custom.items():
        lookup.setdefault(_squash(f.label), f"account.custom.{key}")
    used: set[str] = set()
    mapping: dict[str, str] = {}
    for header in headers:
        target = lookup.get(_squash(header), "ignore")
        if target != "ignore" and target in used:
            target = "ignore"
        used.add(target)
        mapping[header] = target
    return mapping


def valid_target(
    target: str,
    custom: Mapping[str, CustomField],
    account_custom: Mapping[str, CustomField] = NONE,
) -> bool:
    if target == "ignore" or target in STANDARD or target in ACCOUNT or target == "owner":
        return True
    if target.startswith("custom."):
        return target[7:] in custom
    if target.startswith("account.custom."):
        return target[15:] in account_custom
    if target.startswith("identity."):
        kind, _, namespace = target[9:].partition(":")
        return kind in rules.Kind.__members__ and (
            bool(namespace) == (rules.Kind(kind) in rules.NAMESPACED)
        )
    return False


# Column lengths of the fields a cell fills (longer text is cut, never a failed COPY).
LENGTHS = {"city": 80, "province": 80, "language": 16, "stage": 32, "source": 120}


@dataclass
class Parsed:
    line: int
    values: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    keys: list[Key] = field(default_factory=list)
    account_name: str | None = None
    account_domain: str | None = None
    account_role: str | None = None
    account_title: str | None = None
    account_id: int | None = None  # the account the row links to, once planned
    # custom values for the account the row creates (an existing account keeps its own)
    account_custom: dict[str, Any] = field(default_factory=dict)
    owner_email: str | None = None


@dataclass(frozen=True)
class Problem:
    line: int
    column: str | None
    value: str | None
    reason: str  # a stable code: invalid_phone, invalid_email, invalid_value, missing_identity, …
    message: Message


Columns = list[tuple[int, str, str]]


def columns(headers: list[str], mapping: Mapping[str, str]) -> Columns:
    """(cell index, header, target) for every mapped column; of two columns with one header,
    the last."""
    at = {h: i for i, h in enumerate(headers) if h}
    return [
        (at[column], column, target)
        for column, target in mapping.items()
        if target != "ignore" and column in at
    ]


def parse(
    line: int,
    cells: list[str],
    mapped: Columns,
    custom: Mapping[str, CustomField],
    account_custom: Mapping[str, CustomField] = NONE,
) -> Parsed | Problem:
    parsed = Parsed(line)
    for index, column, target in mapped:
        raw = cells[index].strip() if index < len(cells) else ""
        if not raw:
            continue
        if "\ufffd" in raw or "\x00" in raw:
            return Problem(
                line,
                column,
                raw[:255],
                "undecodable_text",
                Message(N_("text that is neither UTF-8 nor GBK")),
            )
        try:
            if target == "email":
                parsed.values["email"] = normalise.email(raw)
            elif target == "phone":
                parsed.values["phone"] = normalise.phone(raw)
            elif target == "gender":
                gender = GENDERS.get(raw.strip().lower())
                if gender is None:
                    raise InvalidValue(N_("unknown gender: {value}"), value=raw)
                parsed.values["gender"] = gender
            elif target == "country":
                if len(raw.strip()) != 2:
                    raise InvalidValue(N_("a two-letter country code, such as CN"))
                parsed.values["country"] = raw.strip().upper()
            elif target in STANDARD:
                parsed.values[target] = raw[: LENGTHS.get(target, 120)]
            elif target.startswith("custom."):
                key = target[7:]
                f = custom[key]
                parsed.custom[key] = custom_fields.coerce(
                    custom_fields.FieldType(f.type), f.options, raw
                )
            elif target.startswith("account.custom."):
                key = target[15:]
                f = account_custom[key]
                parsed.account_custom[key] = custom_fields.coerce(
                    custom_fields.FieldType(f.type), f.options, raw
                )
            elif target.startswith("identity."):
                kind, _, namespace = target[9:].partition(":")
                parsed.keys.append(rules.key(kind, raw, namespace or None))
            elif target == "account.name":
                parsed.account_name = raw[:200]
            elif target == "account.domain":
                parsed.account_domain = normalise.domain(raw)[:253]
            elif target == "account.role":
                role = raw.strip().lower().replace(" ", "_")
                if role not in ROLES:
                    raise InvalidValue(N_("role is one of {roles}"), roles=", ".join(sorted(ROLES)))
                parsed.account_role = role
            elif target == "account.title":
                parsed.account_title = raw[:120]
            elif target == "owner":
                parsed.owner_email = normalise.email(raw)
        except InvalidValue as exc:
            reason = {
                "email": "invalid_email",
                "phone": "invalid_phone",
                "owner": "invalid_email",
            }.get(target, "invalid_value")
            return Problem(line, column[:120], raw[:255], reason, exc.message)
    for kind, name in rules.PROFILE_FIELD.items():
        if parsed.values.get(name):
            parsed.keys.append(Key(kind, "", parsed.values[name]))
    parsed.keys = list(dict.fromkeys(parsed.keys))  # one identity named by two columns
    if not parsed.keys:
        return Problem(
            line,
            None,
            None,
            "missing_identity",
            Message(N_("no email, phone or other identity to import the row by")),
        )
    if "name" in parsed.values:
        parsed.values["name_key"] = normalise.name_key(parsed.values["name"])[:120]
    return parsed


def missing_required(parsed: Parsed, custom: Mapping[str, CustomField]) -> Problem | None:
    """For a row that creates a contact: the required custom fields it leaves empty."""
    missing = [k for k, f in custom.items() if f.required and parsed.custom.get(k) is None]
    if not missing:
        return None
    return Problem(
        parsed.line,
        None,
        None,
        "missing_required",
        Message(N_("required: {fields}"), fields=", ".join(missing)),
    )
