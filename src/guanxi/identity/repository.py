"""All SQL for identities and merges."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import and_, or_, select, text, update
from sqlalchemy.orm import Session

from guanxi.db import in_list
from guanxi.identity.rules import KINDS, Key, Kind
from guanxi.models import Contact, ContactMerge, Event, Identity


def find(session: Session, workspace_id: int, keys: Iterable[Key]) -> dict[Key, Identity]:
    """The identities among ``keys`` that exist, in one query."""
    wanted = list(keys)
    if not wanted:
        return {}
    stmt = select(Identity).where(
        Identity.workspace_id == workspace_id,
        or_(
            *(
                and_(
                    Identity.kind == k.kind.value,
                    Identity.namespace == k.namespace,
                    Identity.value == k.value,
                )
                for k in wanted
            )
        ),
    )
    return {Key(Kind(i.kind), i.namespace, i.value): i for i in session.scalars(stmt)}


def contact_ids(session: Session, workspace_id: int, keys: Iterable[Key]) -> dict[Key, int]:
    """contact id for every existing identity among ``keys``: on PostgreSQL one query, on SQLite
    one per (kind, namespace)."""
    wanted = set(keys)
    if not wanted:
        return {}
    found: dict[Key, int] = {}
    if session.get_bind().dialect.name == "postgresql":
        keys_json = json.dumps(
            [{"k": k.kind.value, "n": k.namespace, "v": k.value} for k in wanted],
            ensure_ascii=False,
        )
        rows = session.execute(_FIND_PG, {"ws": workspace_id, "keys": keys_json})
        for kind, namespace, value, contact_id in rows:
            found[Key(KINDS[kind], namespace, value)] = contact_id
        return found
    groups: dict[tuple[Kind, str], set[str]] = defaultdict(set)
    for k in wanted:
        groups[(k.kind, k.namespace)].add(k.value)
    for (kind, namespace), values in groups.items():
        stmt = select(Identity.value, Identity.contact_id).where(
            Identity.workspace_id == workspace_id,
            Identity.kind == kind.value,
            Identity.namespace == namespace,
            in_list(session, Identity.value, values),
        )
        for value, contact_id in session.execute(stmt):
            found[Key(kind, namespace, value)] = contact_id
    return found


_FIND_PG = text(  # the keys travel as one JSON document: cheaper to send than text arrays
    "SELECT i.kind, i.namespace, i.value, i.contact_id FROM identity i "
    "JOIN jsonb_to_recordset(CAST(:keys AS jsonb)) AS w(k text, n text, v text) "
    'ON i.kind = w.k COLLATE "C" AND i.namespace = w.n COLLATE "C" AND i.value = w.v COLLATE "C" '
    "WHERE i.workspace_id = :ws"
)


def of_contacts(
    session: Session, workspace_id: int, contact_ids: Iterable[int]
) -> Sequence[Identity]:
    stmt = (
        select(Identity)
        .where(Identity.workspace_id == workspace_id, Identity.contact_id.in_(list(contact_ids)))
        .order_by(Identity.kind, Identity.namespace, Identity.value)
    )
    return session.scalars(stmt).all()


def move_identities(session: Session, workspace_id: int, ids: Sequence[int], to: int) -> None:
    if ids:
        session.execute(
            update(Identity)
            .where(Identity.workspace_id == workspace_id, Identity.id.in_(ids))
            .values(contact_id=to)
        )


def move_events(
    session: Session,
    workspace_id: int,
    *,
    from_contact: int,
    to: int,
    origins: Iterable[int] | None,
) -> None:
    """Re-point a profile's events: all of them (a merge), or those recorded for ``origins``
    (an undo)."""
    stmt = update(Event).where(Event.workspace_id == workspace_id, Event.contact_id == from_contact)
    if origins is not None:
        stmt = stmt.where(Event.origin_contact_id.in_(list(origins)))
    session.execute(stmt.values(contact_id=to))


def merged_into(session: Session, workspace_id: int, contact_ids: Iterable[int]) -> set[int]:
    stmt = select(Contact.id).where(
        Contact.workspace_id == workspace_id, Contact.merged_into_id.in_(list(contact_ids))
    )
    return set(session.scalars(stmt))


def merges_of(session: Session, workspace_id: int, contact_id: int) -> Sequence[ContactMerge]:
    stmt = (
        select(ContactMerge)
        .where(
            ContactMerge.workspace_id == workspace_id,
            or_(ContactMerge.survivor_id == contact_id, ContactMerge.merged_id == contact_id),
        )
        .order_by(ContactMerge.created_at.desc(), ContactMerge.id.desc())
    )
    return session.scalars(stmt).all()
