"""Custom fields: typed definitions per workspace, and validation of the values (pure part
first, then the service)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.errors import AlreadyExists, InvalidValue, NotFound
from guanxi.i18n import N_
from guanxi.models import CustomField


class FieldType(StrEnum):
    text = "text"
    number = "number"
    date = "date"
    select = "select"
    multi_select = "multi_select"
    boolean = "boolean"


KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TRUE = {"true", "1", "yes", "y", "是", "对", "t"}
_FALSE = {"false", "0", "no", "n", "否", "不", "f"}


def coerce(kind: FieldType, options: Sequence[str], value: Any) -> Any:
    """The stored form of one value (dates as ISO strings, so they sort); InvalidValue if it
    cannot be. Strings are accepted for every type, as an import delivers them."""
    if value is None or value == "":
        return None
    if kind == FieldType.text:
        text = str(value).strip()
        if len(text) > 2000:
            raise InvalidValue(N_("text longer than 2,000 characters"))
        return text
    if kind == FieldType.number:
        if isinstance(value, bool):
            raise InvalidValue(N_("not a number: {value}"), value=value)
        try:
            number = float(str(value).replace(",", "").strip())
        except ValueError as exc:
            raise InvalidValue(N_("not a number: {value}"), value=value) from exc
        if number != number or abs(number) > 1e15:
            raise InvalidValue(N_("number out of range: {value}"), value=value)
        return int(number) if number.is_integer() else number
    if kind == FieldType.date:
        try:
            return date.fromisoformat(str(value).strip().replace("/", "-")).isoformat()
        except ValueError as exc:
            raise InvalidValue(N_("not a date (YYYY-MM-DD): {value}"), value=value) from exc
    if kind == FieldType.boolean:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise InvalidValue(N_("not yes/no: {value}"), value=value)
    if kind == FieldType.select:
        text = str(value).strip()
        if text not in options:
            raise InvalidValue(
                N_("{value} is not one of {options}"), value=text, options=", ".join(options)
            )
        return text
    items = value if isinstance(value, list) else [v for v in re.split(r"[;,，；|]", str(value))]
    chosen = [str(v).strip() for v in items if str(v).strip()]
    unknown = [v for v in chosen if v not in options]
    if unknown:
        raise InvalidValue(
            N_("{value} is not one of {options}"),
            value=", ".join(unknown),
            options=", ".join(options),
        )
    return sorted(set(chosen), key=list(options).index)


def validate(
    definitions: Mapping[str, CustomField], values: Mapping[str, Any], *, complete: bool
) -> dict[str, Any]:
    """Coerce ``values`` by their definitions. Unknown keys are refused; with ``complete`` (a
    new record) required fields must be present. Errors name the field: ``{key}: reason``."""
    out: dict[str, Any] = {}
    for key_, value in values.items():
        field = definitions.get(key_)
        if field is None:
            raise InvalidValue(N_("{field}: no such custom field"), field=key_)
        try:
            out[key_] = coerce(FieldType(field.type), field.options, value)
        except InvalidValue as exc:
            raise InvalidValue(N_("{field}: {reason}"), field=key_, reason=exc.message) from exc
    if complete:
        missing = [k for k, f in definitions.items() if f.required and out.get(k) is None]
        if missing:
            raise InvalidValue(N_("required: {fields}"), fields=", ".join(missing))
    return out


# -- service ---------------------------------------------------------------------------------


def definitions(session: Session, workspace_id: int, obj: str) -> dict[str, CustomField]:
    stmt = select(CustomField).where(
        CustomField.workspace_id == workspace_id, CustomField.object == obj
    )
    return {f.key: f for f in session.scalars(stmt)}


def list_fields(session: Session, actor: Principal, obj: str | None) -> list[CustomField]:
    actor.require("fields:read")
    stmt = select(CustomField).where(CustomField.workspace_id == actor.workspace_id)
    if obj is not None:
        stmt = stmt.where(CustomField.object == obj)
    return list(session.scalars(stmt.order_by(CustomField.object, CustomField.key)))


def get_field(session: Session, actor: Principal, field_id: int) -> CustomField:
    actor.require("fields:read")
    field = session.get(CustomField, (actor.workspace_id, field_id))
    if field is None:
        raise NotFound(resource=N_("Custom field"))
    return field


def create_field(
    session: Session,
    actor: Principal,
    *,
    obj: str,
    key: str,
    label: str,
    kind: FieldType,
    options: list[str],
    required: bool,
) -> CustomField:
    actor.require("fields:write")
    if key in definitions(session, actor.workspace_id, obj):
        raise AlreadyExists(resource=N_("Custom field"))
    field = CustomField(
        workspace_id=actor.workspace_id,
        object=obj,
        key=key,
        label=label,
        type=kind.value,
        options=options,
        required=required,
    )
    session.add(field)
    session.flush()
    return field


def update_field(
    session: Session, actor: Principal, field_id: int, changes: Mapping[str, Any]
) -> CustomField:
    """Labels, options and ``required`` may change; the key and type may not (stored values
    depend on them)."""
    actor.require("fields:write")
    field = get_field(session, actor, field_id)
    for name in ("label", "options", "required"):
        if name in changes:
            setattr(field, name, changes[name])
    session.flush()
    return field
