"""A channel account's settings form, made from its connector's ``Config`` JSON schema (what
``GET /api/v1/connectors`` lists), so that a new connector gets its form without a template.

Each setting becomes one input: text, number (with the schema's bounds), checkbox, select (an
enum), password (a ``SecretStr``: never filled in, shown as set or not set; left empty, the
stored secret is kept) or, for a mapping such as per-domain rates, JSON in a text area.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from guanxi.channels.base import REGISTRY, secret_fields
from guanxi.i18n import N_, Message
from guanxi.message.accounts import InvalidChannelConfig, UnknownConnector

PREFIX = "cfg_"  # the settings' form fields, apart from the account's own (name, channel …)

# the shipped connectors' settings in words; another connector's show their schema title
LABELS = {
    "host": N_("Mail server"),
    "port": N_("Port"),
    "security": N_("Connection security"),
    "verify_tls": N_("Check the server's certificate"),
    "username": N_("User name"),
    "password": N_("Password"),
    "from_address": N_("From address"),
    "from_name": N_("From name"),
    "return_path": N_("Return path (where bounces go; the From address when empty)"),
    "message_id_domain": N_("Message-ID domain (the From address's domain when empty)"),
    "helo_name": N_("HELO name"),
    "pool_size": N_("Connections to the server"),
    "max_per_connection": N_("Messages per connection"),
    "timeout_s": N_("Timeout (seconds)"),
    "per_domain_per_s": N_('Messages a second per recipient domain (JSON, e.g. {"qq.com": 20})'),
    "default_per_domain_per_s": N_("Messages a second to any other domain"),
    "throttle_max_wait_s": N_("Longest wait for a domain's turn (seconds)"),
    "mailbox": N_("Mailbox name"),
    "fail_addresses": N_('Addresses to refuse (JSON, e.g. {"x@example.cn": "permanent"})'),
    "webhook_secret": N_("Callback signing secret"),
    "latency_s": N_("Simulated latency (seconds)"),
    "max_in_flight": N_("Sends at once"),
}


@dataclass(frozen=True)
class Setting:
    name: str
    label: str  # an N_ text (translated when shown) or the schema's title
    hint: str | None  # the schema's description, for settings without a label of ours
    widget: str  # text | number | checkbox | select | password | json
    required: bool
    choices: tuple[str, ...] = ()
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    step: str = "any"


def _shape(prop: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """A property's own shape: the non-null branch of an optional one, a ``$ref`` followed."""
    shape = dict(prop)
    for option in prop.get("anyOf", ()):
        if option.get("type") != "null":
            shape |= option
            break
    ref = shape.get("$ref")
    if isinstance(ref, str):
        shape |= schema.get("$defs", {}).get(ref.rsplit("/", 1)[-1], {})
    return shape


def settings_of(kind: str) -> list[Setting]:
    """The connector's settings in the order its Config declares them."""
    cls = REGISTRY.get(kind)
    if cls is None:
        raise UnknownConnector(kind=kind)
    schema = cls.Config.model_json_schema()
    secrets = set(secret_fields(cls.Config))
    required = set(schema.get("required", ()))
    found = []
    for name, prop in schema.get("properties", {}).items():
        shape = _shape(prop, schema)
        kind_of = shape.get("type")
        if name in secrets:
            widget = "password"
        elif "enum" in shape:
            widget = "select"
        elif kind_of == "boolean":
            widget = "checkbox"
        elif kind_of in ("integer", "number"):
            widget = "number"
        elif kind_of in ("object", "array"):
            widget = "json"
        else:
            widget = "text"
        found.append(
            Setting(
                name=name,
                label=LABELS.get(name, str(shape.get("title", name))),
                hint=None if name in LABELS else shape.get("description"),
                widget=widget,
                required=name in required,
                choices=tuple(str(c) for c in shape.get("enum", ())),
                default=prop.get("default"),
                minimum=shape.get("minimum", shape.get("exclusiveMinimum")),
                maximum=shape.get("maximum", shape.get("exclusiveMaximum")),
                step="1" if kind_of == "integer" else "any",
            )
        )
    return found


def _number(raw: str, setting: Setting) -> int | float | str:
    """The typed number; text that is not one goes on as typed, for the connector's Config to
    refuse with its own words."""
    try:
        return int(raw) if setting.step == "1" else float(raw)
    except ValueError:
        return raw


class Unparsed(str):
    """JSON that did not parse, kept as typed to be shown again."""

    __slots__ = ()


def posted(settings: list[Setting], data: FormData) -> dict[str, Any]:
    """The settings as posted; an empty one is left out (its default — or, for a secret, the
    value already stored). See :func:`check`."""
    config: dict[str, Any] = {}
    for s in settings:
        value = data.get(PREFIX + s.name)
        if s.widget == "checkbox":
            config[s.name] = value is not None
            continue
        raw = str(value or "")
        raw = raw if s.widget == "password" else raw.strip()
        if not raw:
            continue
        if s.widget == "number":
            config[s.name] = _number(raw, s)
        elif s.widget == "json":
            try:
                config[s.name] = json.loads(raw)
            except ValueError:
                config[s.name] = Unparsed(raw)
        else:
            config[s.name] = raw
    return config


def check(config: Mapping[str, Any]) -> None:
    """Refuse posted settings with JSON that did not parse."""
    for name, value in config.items():
        if isinstance(value, Unparsed):
            raise InvalidChannelConfig(reason=Message(N_("{name} is not valid JSON"), name=name))


def shown(settings: list[Setting], config: Mapping[str, Any]) -> dict[str, Any]:
    """What each input starts with: the value given, else the default; never a secret."""
    values = {}
    for s in settings:
        if s.widget == "password":
            continue
        value = config.get(s.name, s.default)
        if s.widget == "json" and not isinstance(value, Unparsed):
            value = json.dumps(value, ensure_ascii=False) if value else ""
        values[s.name] = "" if value is None else value
    return values
