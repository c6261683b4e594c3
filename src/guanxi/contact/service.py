"""Contact rows: visibility by data scope, reading and listing, field updates, consent.

Identities (and therefore creating contacts, email/phone changes and merges) go through
``guanxi.identity.service``, which calls this module for the rows themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, cast, exists, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from guanxi.auth import service as auth
from guanxi.auth.principal import Principal
from guanxi.contact import collisions, normalise
from guanxi.contact import fields as custom_fields
from guanxi.errors import InvalidValue, NotFound, ValidationFailed
from guanxi.i18n import N_, Message
from guanxi.kit.clock import utcnow
from guanxi.kit.pagination import SortSpec, paginate
from guanxi.models import (
    Contact,
    ContactAccount,
    ContactConsent,
    CustomField,
    Segment,
    SegmentMember,
)
from guanxi.workspace import members


class InvalidField(ValidationFailed):
    code = "invalid_field"
    message = N_("A field is not valid: {reason}")


def visible(session: Session, actor: Principal) -> ColumnElement[bool]:
    """Contacts ``actor`` may see by data scope (``auth.service.owner_visible``)."""
    return auth.owner_visible(session, actor, Contact.owner_id)


def get(session: Session, actor: Principal, contact_id: int, *, write: bool = False) -> Contact:
    actor.require("contacts:write" if write else "contacts:read")
    stmt = select(Contact).where(
        Contact.workspace_id == actor.workspace_id,
        Contact.id == contact_id,
        visible(session, actor),
    )
    contact = session.scalar(stmt)
    if contact is None or (write and contact.status != "active"):
        raise NotFound(resource=N_("Contact"))
    if write:  # every write to a contact comes through here: someone else's is a collision
        collisions.touched(
            session, actor, "contact", contact.id, contact.owner_id, contact.name, "write", utcnow()
        )
    return contact


CONTACT_SORT = SortSpec(
    fields={
        "created_at": Contact.created_at,
        "updated_at": Contact.updated_at,
        "name": Contact.name_key,
    },
    tiebreak=Contact.id,
    default="-created_at",
)


def list_contacts(
    session: Session,
    actor: Principal,
    *,
    q: str | None,
    owner_id: int | None,
    stage: str | None,
    source: str | None,
    account_id: int | None,
    status: str,
    custom: Mapping[str, str],
    sort: str | None,
    limit: int,
    cursor: str | None,
    segment_id: int | None = None,
) -> tuple[Sequence[Row[Any]], str | None]:
    actor.require("contacts:read")
    stmt = select(Contact).where(
        Contact.workspace_id == actor.workspace_id,
        Contact.status == status,
        visible(session, actor),
    )
    if q:
        text = q.strip().lower()
        like = f"%{text}%"
        stmt = stmt.where(
            or_(Contact.name_key.like(like), Contact.email.like(like), Contact.phone.like(like))
        )
    if owner_id is not None:
        stmt = stmt.where(Contact.owner_id == owner_id)
    if stage is not None:
        stmt = stmt.where(Contact.stage == stage)
    if source is not None:
        stmt = stmt.where(Contact.source == source)
    if account_id is not None:
        stmt = stmt.where(
            Contact.id.in_(
                select(ContactAccount.contact_id).where(
                    ContactAccount.workspace_id == actor.workspace_id,
                    ContactAccount.account_id == account_id,
                )
            )
        )
    if segment_id is not None:  # a segment's members (its export)
        if session.get(Segment, (actor.workspace_id, segment_id)) is None:
            raise NotFound(resource=N_("Segment"))
        stmt = stmt.where(
            Contact.id.in_(
                select(SegmentMember.contact_id).where(
                    SegmentMember.workspace_id == actor.workspace_id,
                    SegmentMember.segment_id == segment_id,
                )
            )
        )
    definitions = (
        custom_fields.definitions(session, actor.workspace_id, "contact") if custom else {}
    )
    for key, value in custom.items():
        if key not in definitions:
            raise InvalidField(
                reason=Message(N_("{field}: no such custom field"), field=f"custom.{key}")
            )
        stmt = stmt.where(custom_equals(session, definitions[key], value))
    return paginate(session, stmt, CONTACT_SORT, sort=sort, limit=limit, cursor=cursor)


def search(session: Session, actor: Principal, q: str, limit: int = 10) -> list[Contact]:
    """The newest active contacts the actor may see whose name, email or phone holds ``q`` (a
    picker's answer: none for an empty ``q``)."""
    if not q.strip():
        return []
    rows, _ = list_contacts(
        session,
        actor,
        q=q.strip(),
        owner_id=None,
        stage=None,
        source=None,
        account_id=None,
        status="active",
        custom={},
        sort="-created_at",
        limit=limit,
        cursor=None,
    )
    return [r.Contact for r in rows]


def custom_equals(session: Session, field: CustomField, value: str) -> ColumnElement[bool]:
    """``custom.<key>=<value>`` compared as the field's type on both databases: numbers as
    numbers (``5000`` finds ``5000.0``), yes/no as booleans, a multi-select containing every
    value given (``AI;IoT``), the rest as text."""
    kind = custom_fields.FieldType(field.type)
    try:
        typed = custom_fields.coerce(kind, field.options, value)
    except InvalidValue as exc:
        raise InvalidField(
            reason=Message(N_("{field}: {reason}"), field=f"custom.{field.key}", reason=exc.message)
        ) from exc
    element = Contact.custom[field.key]
    condition: ColumnElement[bool]
    if kind == custom_fields.FieldType.number:
        condition = element.as_float() == float(typed)
        return condition
    if kind == custom_fields.FieldType.boolean:
        condition = element.as_boolean() == typed
        return condition
    if kind == custom_fields.FieldType.multi_select:
        if session.get_bind().dialect.name == "postgresql":
            condition = cast(element, JSONB).contains(typed)
            return condition
        members_ = func.json_each(Contact.custom, f'$."{field.key}"').table_valued("value")
        return and_(
            *(exists(select(members_.c.value).where(members_.c.value == item)) for item in typed)
        )
    condition = element.as_string() == typed
    return condition


def check_owner(session: Session, workspace_id: int, owner_id: int | None) -> None:
    if owner_id is not None and members.active_membership(session, workspace_id, owner_id) is None:
        raise NotFound(resource=N_("Member"))


def clean_custom(
    session: Session, workspace_id: int, values: Mapping[str, Any], *, complete: bool
) -> dict[str, Any]:
    definitions = custom_fields.definitions(session, workspace_id, "contact")
    try:
        return custom_fields.validate(definitions, values, complete=complete)
    except InvalidValue as exc:
        raise InvalidField(reason=exc.message) from exc


def new_contact(
    session: Session, workspace_id: int, values: Mapping[str, Any], now: datetime
) -> Contact:
    """A new active contact row from already-validated standard fields and ``custom``."""
    contact = Contact(workspace_id=workspace_id, custom={}, created_at=now, updated_at=now)
    apply(contact, values, overwrite=True, now=now)
    session.add(contact)
    session.flush()
    return contact


def apply(
    contact: Contact, values: Mapping[str, Any], *, overwrite: bool, now: datetime
) -> dict[str, Any]:
    """Set standard fields and custom keys; without ``overwrite`` only empty ones are filled.
    A custom value of None clears its key. Returns what changed."""
    changed: dict[str, Any] = {}
    for name, value in values.items():
        if name == "custom":
            custom = dict(contact.custom or {})
            for key, item in value.items():
                if item is None:
                    if key in custom and overwrite:
                        changed[f"custom.{key}"] = custom.pop(key)
                elif (overwrite or custom.get(key) in (None, "")) and custom.get(key) != item:
                    custom[key] = item
                    changed[f"custom.{key}"] = item
            contact.custom = custom
            continue
        current = getattr(contact, name)
        if value is None and not overwrite:
            continue
        if (overwrite or current in (None, "")) and current != value:
            setattr(contact, name, value)
            changed[name] = value
    if "name" in changed:
        contact.name_key = normalise.name_key(contact.name) if contact.name else None
    if changed:
        contact.updated_at = now
    return changed


def consents(session: Session, workspace_id: int, contact_id: int) -> Sequence[ContactConsent]:
    stmt = select(ContactConsent).where(
        ContactConsent.workspace_id == workspace_id, ContactConsent.contact_id == contact_id
    )
    return session.scalars(stmt.order_by(ContactConsent.channel)).all()


def set_consent(
    session: Session,
    actor: Principal,
    contact_id: int,
    channel: str,
    status: str,
    source: str | None,
    now: datetime,
) -> ContactConsent:
    contact = get(session, actor, contact_id, write=True)
    return record_consent(session, actor.workspace_id, contact.id, channel, status, source, now)


def record_consent(
    session: Session,
    workspace_id: int,
    contact_id: int,
    channel: str,
    status: str,
    source: str | None,
    now: datetime,
) -> ContactConsent:
    """Opt-in or opt-out of one channel, with where it was given: ``consent.service.record``
    (no permission check), for the callers that hold the contact service."""
    # imported here: consent records events, whose reactors (segments) import this module
    from guanxi.consent import service as consent

    row, _ = consent.record(session, workspace_id, contact_id, channel, status, source, now)
    return row
