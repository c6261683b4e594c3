"""Identity rules, pure: kinds, normalisation, conflicts, the survivor of a merge, field merging.

An identity is (kind, namespace, value): ``("wechat_openid", "<OA appid>", "o6_bmjrP…")``. A
value belongs to at most one contact per workspace. *Singular* kinds are held once per person in
a namespace (one unionid, one openid per Official Account): two contacts holding different values
of one are two people, and a request that says otherwise is a conflict, refused. The other kinds
(email, phone, WhatsApp, anonymous browser ids) a person may have several of.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from guanxi.contact import normalise
from guanxi.errors import InvalidValue
from guanxi.i18n import N_


class Kind(StrEnum):
    email = "email"
    phone = "phone"
    wechat_openid = "wechat_openid"
    wechat_unionid = "wechat_unionid"
    wecom_external_userid = "wecom_external_userid"
    whatsapp = "whatsapp"
    anonymous_id = "anonymous_id"
    external_id = "external_id"


KINDS: dict[str, Kind] = {k.value: k for k in Kind}  # Kind(text) is slow for a hot path
NAMESPACED = frozenset({Kind.wechat_openid, Kind.wecom_external_userid, Kind.external_id})
SINGULAR = frozenset(
    {Kind.wechat_openid, Kind.wechat_unionid, Kind.wecom_external_userid, Kind.external_id}
)
ANONYMOUS = frozenset({Kind.anonymous_id})
# Identities that set the contact's main email/phone field when it is empty.
PROFILE_FIELD = {Kind.email: "email", Kind.phone: "phone"}


@dataclass(frozen=True, order=True)
class Key:
    kind: Kind
    namespace: str
    value: str


def key(kind: str, value: str, namespace: str | None = None, region: str = "CN") -> Key:
    """A normalised identity; InvalidValue when the value cannot be one of this kind."""
    k = KINDS.get(kind)
    if k is None:
        raise InvalidValue(N_("unknown identity kind: {kind}"), kind=kind)
    ns = (namespace or "").strip()
    if k in NAMESPACED and not ns:
        raise InvalidValue(
            N_("{kind} needs a namespace (the appid, corp id or source system)"), kind=k.value
        )
    if k not in NAMESPACED:
        ns = ""
    text = value.strip()
    if k == Kind.email:
        text = normalise.email(text)
    elif k in (Kind.phone, Kind.whatsapp):
        text = normalise.phone(text, region)
    if not text or len(text) > 255 or "\x00" in text or "\x00" in ns:
        raise InvalidValue(N_("empty, too long or not text: {kind}"), kind=k.value)
    return Key(k, ns, text)


def conflicts(a: Iterable[Key], b: Iterable[Key]) -> list[Key]:
    """Singular identities that differ between two contacts: merging them would give one person
    two unionids (say). Returns b's conflicting keys; empty means a merge is consistent."""
    held = {(k.kind, k.namespace): k.value for k in a if k.kind in SINGULAR}
    return sorted(
        k for k in b if k.kind in SINGULAR and held.get((k.kind, k.namespace), k.value) != k.value
    )


@dataclass(frozen=True)
class Candidate:
    id: int
    anonymous: bool  # only anonymous identities


def survivor(a: Candidate, b: Candidate) -> tuple[Candidate, Candidate]:
    """(survivor, merged): an identified contact beats an anonymous one, then the older (ids
    are time-ordered) wins — the same answer whatever order the two come in."""
    ranked = sorted([a, b], key=lambda c: (c.anonymous, c.id))
    return ranked[0], ranked[1]


def merge_fields(
    survivor_fields: Mapping[str, Any], merged_fields: Mapping[str, Any]
) -> dict[str, Any]:
    """Field by field: the survivor keeps what it has; empty fields take the merged contact's
    value. Returns only the fields to copy (the merge log keeps them, so an undo can revert)."""
    return {
        name: value
        for name, value in merged_fields.items()
        if value not in (None, "", [], {}) and survivor_fields.get(name) in (None, "", [], {})
    }
