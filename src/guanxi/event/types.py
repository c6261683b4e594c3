"""Event types: the built-in catalogue plus each workspace's own types."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.errors import Conflict, NotFound
from guanxi.event import catalogue
from guanxi.event.catalogue import TypeSpec
from guanxi.event.schemas import EventTypeIn
from guanxi.i18n import N_
from guanxi.models import EventType


class EventTypeExists(Conflict):
    code = "event_type_exists"
    message = N_("An event type named {name} exists already.")


def specs(session: Session, workspace_id: int, names: Iterable[str]) -> dict[str, TypeSpec]:
    """The spec of each of ``names`` that is a type (built-in, or the workspace's: one query)."""
    wanted = set(names)
    found = {n: catalogue.BUILTIN[n] for n in wanted if n in catalogue.BUILTIN}
    own = wanted - set(found)
    if own:
        stmt = select(EventType).where(
            EventType.workspace_id == workspace_id, EventType.name.in_(own)
        )
        for row in session.scalars(stmt):
            found[row.name] = catalogue.custom_spec(row.name, row.properties)
    return found


def list_types(session: Session, actor: Principal) -> Sequence[EventType]:
    actor.require("contacts:read")
    stmt = (
        select(EventType)
        .where(EventType.workspace_id == actor.workspace_id)
        .order_by(EventType.name)
    )
    return session.scalars(stmt).all()


def create_type(session: Session, actor: Principal, data: EventTypeIn, now: datetime) -> EventType:
    actor.require("fields:write")
    taken = session.get(EventType, (actor.workspace_id, data.name)) is not None
    if taken or data.name in catalogue.BUILTIN:
        raise EventTypeExists(name=data.name)
    row = EventType(
        workspace_id=actor.workspace_id,
        name=data.name,
        label=data.label,
        properties=[p.model_dump(mode="json") for p in data.properties],
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def delete_type(session: Session, actor: Principal, name: str) -> None:
    """Events already stored keep their type; new ones of it are refused."""
    actor.require("fields:write")
    row = session.get(EventType, (actor.workspace_id, name))
    if row is None:
        raise NotFound(resource=N_("Event type"))
    session.delete(row)
    session.flush()
