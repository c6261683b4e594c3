"""The event catalogue, pure: built-in types with the properties each declares, and checking an
event's properties against its type (built-in or a workspace's own).

A type declares properties with a kind and whether they are required; properties it does not
declare are stored as sent. *Internal* types are written only by guanxi itself (a tag added, a
score changed): the public API refuses them so that no client can forge a derived fact.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from guanxi.i18n import N_, Message


class PropKind(StrEnum):
    string = "string"
    number = "number"
    integer = "integer"
    boolean = "boolean"
    datetime = "datetime"
    ratio = "ratio"  # a number from 0 to 1 (scroll completion)
    list = "list"
    object = "object"


@dataclass(frozen=True)
class Prop:
    name: str
    kind: PropKind
    required: bool = False


@dataclass(frozen=True)
class TypeSpec:
    name: str
    props: tuple[Prop, ...] = ()
    internal: bool = False
    open: bool = field(default=True)  # undeclared properties allowed


S, N, R = PropKind.string, PropKind.number, PropKind.ratio
UTM = tuple(Prop(f"utm_{part}", S) for part in ("source", "medium", "campaign", "term", "content"))
PAGE = (Prop("url", S, True), Prop("title", S), Prop("referrer", S), *UTM)


def _spec(name: str, *props: Prop, internal: bool = False) -> TypeSpec:
    return TypeSpec(name, tuple(props), internal)


_BUILTIN = [
    _spec("page_view", *PAGE),
    _spec("page_leave", Prop("url", S, True), Prop("dwell_s", N), Prop("completion", R)),
    _spec("link_click", Prop("url", S, True), Prop("link_code", S), *UTM),
    _spec("content_open", Prop("content_id", S, True), Prop("link_code", S), Prop("sender_id", S)),
    _spec(
        "content_view",
        Prop("content_id", S, True),
        Prop("link_code", S),
        Prop("sender_id", S),
        Prop("dwell_s", N),
        Prop("completion", R),
    ),
    _spec("form_submit", Prop("form_id", S, True), Prop("form_name", S), *UTM),
    _spec("qr_scan", Prop("channel_code", S)),
    _spec("follow", Prop("channel_code", S)),
    _spec("unfollow"),
    _spec("menu_click", Prop("key", S)),
    _spec("message_in", Prop("text", S)),
    _spec("message_out", Prop("text", S)),
    _spec("wecom_friend_added", Prop("user_id", S), Prop("channel_code", S)),
    _spec("wecom_friend_deleted", Prop("user_id", S)),
    *(
        _spec(f"email_{what}", Prop("message_id", S), Prop("url", S))
        for what in (
            "sent",
            "delivered",
            "opened",
            "clicked",
            "bounced",
            "complained",
            "unsubscribed",
        )
    ),
    *(
        _spec(f"sms_{what}", Prop("message_id", S), Prop("url", S))
        for what in ("sent", "delivered", "clicked", "replied")
    ),
    _spec("webinar_registered", Prop("webinar_id", S, True)),
    _spec("webinar_attended", Prop("webinar_id", S, True), Prop("duration_s", N)),
    _spec("checkin", Prop("place", S)),
    _spec("order", Prop("order_id", S, True), Prop("amount", N, True), Prop("currency", S)),
    _spec("purchase", Prop("order_id", S, True), Prop("amount", N, True), Prop("currency", S)),
    _spec("referral", Prop("referred_contact_id", S)),
    _spec("call", Prop("duration_s", N), Prop("direction", S)),
    _spec("meeting", Prop("subject", S)),
    _spec("note", Prop("text", S, True)),
    _spec("custom"),
    _spec("segment_entered", Prop("segment_id", S, True), internal=True),
    _spec("segment_exited", Prop("segment_id", S, True), internal=True),
    _spec(
        "stage_changed",
        Prop("from", S),
        Prop("to", S, True),
        Prop("cause", S),
        Prop("backward", PropKind.boolean),
        internal=True,
    ),
    _spec("profile_updated", Prop("fields", PropKind.list, True), internal=True),
    _spec("score_changed", Prop("model", S, True), Prop("score", N, True), internal=True),
    _spec("tag_added", Prop("tag", S, True), internal=True),
    _spec("tag_removed", Prop("tag", S, True), internal=True),
    _spec(
        "consent_changed",
        Prop("channel", S, True),
        Prop("status", S, True),
        Prop("source", S),
        internal=True,
    ),
    _spec("unsubscribed", Prop("channel", S, True), Prop("message_id", S), internal=True),
    _spec(
        "score_adjusted",
        Prop("model", S, True),
        Prop("points", N, True),
        Prop("reason", S),
        Prop("journey_id", S),
        internal=True,
    ),
    _spec("journey_entered", Prop("journey_id", S, True), Prop("version", N), internal=True),
    _spec(
        "journey_exited",
        Prop("journey_id", S, True),
        Prop("reason", S, True),
        Prop("node_id", S),
        internal=True,
    ),
]
BUILTIN: dict[str, TypeSpec] = {spec.name: spec for spec in _BUILTIN}


def custom_spec(name: str, props: Iterable[Mapping[str, Any]]) -> TypeSpec:
    """A workspace's own type from its stored definition."""
    return TypeSpec(
        name,
        tuple(Prop(p["name"], PropKind(p["kind"]), bool(p.get("required"))) for p in props),
    )


def _fits(kind: PropKind, value: Any) -> bool:
    if kind == PropKind.string:
        return isinstance(value, str)
    if kind in (PropKind.number, PropKind.ratio):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok and (kind != PropKind.ratio or 0 <= value <= 1)
    if kind == PropKind.integer:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == PropKind.boolean:
        return isinstance(value, bool)
    if kind == PropKind.datetime:
        if not isinstance(value, str):
            return False
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return False
        return True
    if kind == PropKind.list:
        return isinstance(value, list)
    return isinstance(value, dict)


KIND_NAMES = {
    PropKind.string: N_("text"),
    PropKind.number: N_("a number"),
    PropKind.integer: N_("a whole number"),
    PropKind.boolean: N_("true or false"),
    PropKind.datetime: N_("an ISO 8601 date and time"),
    PropKind.ratio: N_("a number from 0 to 1"),
    PropKind.list: N_("a list"),
    PropKind.object: N_("an object"),
}


def check(spec: TypeSpec, properties: Mapping[str, Any]) -> Message | None:
    """Why these properties do not fit the type, or None when they do."""
    for prop in spec.props:
        value = properties.get(prop.name)
        if value is None:
            if prop.required:
                return Message(
                    N_("{type} needs the property {name}"), type=spec.name, name=prop.name
                )
            continue
        if not _fits(prop.kind, value):
            return Message(
                N_("{type}.{name} must be {kind}"),
                type=spec.name,
                name=prop.name,
                kind=Message(KIND_NAMES[prop.kind]),
            )
    return None


MAX_TEXT = 32_000  # characters of text in one event's properties, all strings together
MAX_DEPTH = 8


def sane(properties: Mapping[str, Any]) -> Message | None:
    """Why these properties cannot be stored whatever their type says: a NUL character (text
    cannot hold one on PostgreSQL), a number that is not finite, nesting deeper than 8, or
    more than 32,000 characters of text."""
    size = 0
    stack: list[tuple[Any, int]] = [(properties, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return Message(N_("properties are nested deeper than {n} levels"), n=MAX_DEPTH)
        if isinstance(item, str):
            size += len(item)
            if "\x00" in item:
                return Message(N_("properties hold a NUL character"))
        elif isinstance(item, float):
            if not math.isfinite(item):
                return Message(N_("properties hold a number that is not finite"))
        elif isinstance(item, dict):
            for key, value in item.items():
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))
        elif isinstance(item, list):
            stack.extend((value, depth + 1) for value in item)
        if size > MAX_TEXT:
            return Message(N_("properties hold more than {n} characters of text"), n=MAX_TEXT)
    return None
