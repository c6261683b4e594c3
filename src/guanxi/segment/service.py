"""Segments: previewing a condition over the workspace (count and a sample) — the segment
builder's live count — with the workspace's own fields and event types."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.contact import fields as custom_fields
from guanxi.contact import service as contacts
from guanxi.errors import GuanxiError, InvalidValue
from guanxi.event import catalogue
from guanxi.i18n import N_
from guanxi.kit import batch_memo
from guanxi.models import Contact, EventType, Segment, Tag
from guanxi.scoring.specs import specs
from guanxi.segment import conditions
from guanxi.segment.sql import compile_sql


class InvalidCondition(GuanxiError):
    status = 422
    code = "invalid_condition"
    message = N_("The condition cannot be used: {reason}")


def schema_for(session: Session, workspace_id: int) -> conditions.Schema:
    """What the workspace's conditions may name (one reading per batch while the reactors
    run)."""
    return batch_memo.memo(
        session, ("schema", workspace_id), lambda: _read_schema(session, workspace_id)
    )


def _read_schema(session: Session, workspace_id: int) -> conditions.Schema:
    own = session.scalars(select(EventType.name).where(EventType.workspace_id == workspace_id))
    return conditions.Schema(
        contact_custom={
            k: f.type
            for k, f in custom_fields.definitions(session, workspace_id, "contact").items()
        },
        account_custom={
            k: f.type
            for k, f in custom_fields.definitions(session, workspace_id, "account").items()
        },
        event_types=frozenset(catalogue.BUILTIN) | set(own),
        tags=frozenset(
            str(t) for t in session.scalars(select(Tag.id).where(Tag.workspace_id == workspace_id))
        ),
        segments=frozenset(
            str(i)
            for i in session.scalars(select(Segment.id).where(Segment.workspace_id == workspace_id))
        ),
        score_models=specs(session, workspace_id),
    )


def checked(session: Session, workspace_id: int, tree: Any) -> conditions.Schema:
    schema = schema_for(session, workspace_id)
    try:
        conditions.check(tree, schema)
    except InvalidValue as exc:
        raise InvalidCondition(reason=exc.message) from exc
    return schema


def preview(
    session: Session, actor: Principal, tree: Any, now: datetime, sample: int
) -> tuple[int, Sequence[Contact]]:
    """How many active contacts the actor may see match ``tree``, and the newest few."""
    actor.require("contacts:read")
    schema = checked(session, actor.workspace_id, tree)
    dialect = session.get_bind().dialect.name
    where = (
        Contact.workspace_id == actor.workspace_id,
        Contact.status == "active",
        contacts.visible(session, actor),
        compile_sql(tree, schema, actor.workspace_id, now, dialect),
    )
    count = session.scalar(select(func.count()).select_from(Contact).where(*where)) or 0
    rows = session.scalars(
        select(Contact)
        .where(*where)
        .order_by(Contact.updated_at.desc(), Contact.id.desc())
        .limit(sample)
    ).all()
    return count, rows
