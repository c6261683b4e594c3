"""Storing events — the one write path every producer shares (the batch API, the identify
API, web tracking, forms, tracked links, channels, and guanxi's own derived events) — and
reading them back.

``store`` takes drafts for known contacts: idempotency keys are claimed first (a retry stores
nothing twice, and concurrent retries wait on each other's keys), the events are written with one
statement (COPY on PostgreSQL), then the reactors run on the batch and what they derive is
stored the same way.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal, WholeWorkspaceNeeded
from guanxi.errors import GuanxiError
from guanxi.event import catalogue, partitions, reactors
from guanxi.event import repository as repo
from guanxi.event import types as event_types
from guanxi.event.records import Draft, Outcome, Stored
from guanxi.event.schemas import EventIn
from guanxi.i18n import N_, Message
from guanxi.kit.ids import new_ids
from guanxi.kit.pagination import SortSpec, paginate
from guanxi.models import Event


class EventRejected(GuanxiError):
    status = 422
    code = "invalid_event"
    message = N_("Event {index} was refused: {reason}")


def key_hash(key: str) -> uuid.UUID:
    """The stored form of an idempotency key: 128 bits of BLAKE2b."""
    return uuid.UUID(bytes=hashlib.blake2b(key.encode(), digest_size=16).digest())


def _write(
    session: Session, workspace_id: int, drafts: Sequence[Draft], now: datetime
) -> tuple[list[Outcome], list[Stored]]:
    ids = new_ids(len(drafts))
    hashes = [key_hash(d.key) if d.key else None for d in drafts]
    first: dict[uuid.UUID, int] = {}
    claims = []
    for i, h in enumerate(hashes):
        if h is not None and h not in first:
            first[h] = i
            claims.append(
                {
                    "workspace_id": workspace_id,
                    "key": h,
                    "event_id": ids[i],
                    "contact_id": drafts[i].contact_id,
                }
            )
    claims.sort(key=lambda c: str(c["key"]))  # one order for every writer: no deadlock
    new = repo.claim_keys(session, claims)
    seen = repo.keyed(session, workspace_id, set(first) - new)
    if seen:  # a duplicate names its contact as it is now (it may have been merged since)
        now_is = repo.current_contacts(session, workspace_id, {c for _, c in seen.values()})
        seen = {h: (e, now_is.get(c, c)) for h, (e, c) in seen.items()}
    outcomes: list[Outcome] = []
    rows: list[dict[str, Any]] = []
    stored: list[Stored] = []
    for i, (draft, h) in enumerate(zip(drafts, hashes, strict=True)):
        if h is not None and first[h] != i:  # the same key earlier in this batch
            earlier = outcomes[first[h]]
            outcomes.append(Outcome(earlier.event_id, earlier.contact_id, duplicate=True))
            continue
        if h is not None and h not in new:
            event_id, contact_id = seen[h]
            outcomes.append(Outcome(event_id, contact_id, duplicate=True))
            continue
        outcomes.append(Outcome(ids[i], draft.contact_id, duplicate=False))
        rows.append(
            {
                "workspace_id": workspace_id,
                "id": ids[i],
                "contact_id": draft.contact_id,
                "origin_contact_id": draft.contact_id,
                "type": draft.type,
                "occurred_at": draft.occurred_at,
                "received_at": now,
                "channel": draft.channel,
                "source": draft.source,
                "properties": draft.properties,
            }
        )
        stored.append(
            Stored(
                ids[i],
                draft.contact_id,
                draft.type,
                draft.occurred_at,
                draft.properties,
                draft.channel,
                draft.source,
            )
        )
    if rows:
        partitions.ensure(session.get_bind().engine, (r["occurred_at"] for r in rows))
        repo.insert_events(session, rows)
    return outcomes, stored


def store(
    session: Session, workspace_id: int, drafts: Sequence[Draft], now: datetime
) -> list[Outcome]:
    """Store ``drafts`` (one outcome each, in order) and run the reactors on what was new."""
    outcomes, stored = _write(session, workspace_id, drafts, now)
    if stored:
        reactors.run(
            session, workspace_id, stored, now, lambda d: _write(session, workspace_id, d, now)[1]
        )
    return outcomes


def profile_updated(
    session: Session,
    workspace_id: int,
    contact_ids: Iterable[int],
    fields: Iterable[str],
    now: datetime,
) -> None:
    """A person or a client wrote these contacts' fields (or their accounts' — ``account.…``):
    a ``profile_updated`` event says which, so that the reactors (fit scores, lifecycle entry
    rules, segments on fields) see the change."""
    names = sorted(set(fields))
    drafts = [
        Draft(c, "profile_updated", now, {"fields": names}, source="api")
        for c in sorted(set(contact_ids))
    ]
    if names and drafts:
        store(session, workspace_id, drafts, now)


def check(
    session: Session, workspace_id: int, events: Sequence[EventIn], *, internal: bool = False
) -> None:
    """Refuse (422, naming the event) a list where one event's type is unknown or reserved, or
    its properties do not fit its type."""
    specs = event_types.specs(session, workspace_id, {e.type for e in events})
    for index, event in enumerate(events):
        found = problem(specs.get(event.type), event.type, event.properties, internal=internal)
        if found is not None:
            raise EventRejected(
                index=index, reason=found[1], details={"index": index, "code": found[0]}
            )


def problem(
    spec: catalogue.TypeSpec | None, type: str, properties: dict[str, Any], *, internal: bool
) -> tuple[str, Message] | None:
    """(code, why) an event of ``type`` cannot be stored, or None."""
    if spec is None:
        return "unknown_event_type", Message(N_("unknown event type {type}"), type=type)
    if spec.internal and not internal:
        return "reserved_event_type", Message(
            N_("{type} events are recorded by guanxi itself"), type=type
        )
    reason = catalogue.check(spec, properties)
    return None if reason is None else ("invalid_properties", reason)


def record(
    session: Session,
    workspace_id: int,
    contact_id: int,
    events: Sequence[EventIn],
    *,
    source: str | None,
    now: datetime,
) -> int:
    """Store ``events`` for ``contact_id`` (checked against the catalogue first); returns how
    many were new (a repeated idempotency key stores nothing)."""
    check(session, workspace_id, events)
    drafts = [Draft.of(e, contact_id, source, now) for e in events]
    return sum(not o.duplicate for o in store(session, workspace_id, drafts, now))


TIMELINE_SORT = SortSpec(
    fields={"occurred_at": Event.occurred_at}, tiebreak=Event.id, default="-occurred_at"
)


def timeline(
    session: Session,
    workspace_id: int,
    contact_id: int,
    *,
    types: Sequence[str],
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Row[Any]], str | None]:
    """A profile's events, newest first (merged contacts' events included: they moved)."""
    stmt = select(Event).where(Event.workspace_id == workspace_id, Event.contact_id == contact_id)
    if types:
        stmt = stmt.where(Event.type.in_(list(types)))
    return paginate(session, stmt, TIMELINE_SORT, sort="-occurred_at", limit=limit, cursor=cursor)


RECENT_SORT = SortSpec(
    fields={"received_at": Event.received_at}, tiebreak=Event.id, default="-received_at"
)


def recent(
    session: Session,
    actor: Principal,
    *,
    types: Sequence[str],
    channel: str | None,
    since: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Row[Any]], str | None]:
    """The workspace's events as they arrive, newest first (the live events page). They name
    people across the workspace: a member needs a data scope of all."""
    actor.require("events:read")
    if actor.data_scope.value != "all":
        raise WholeWorkspaceNeeded()
    stmt = select(Event).where(Event.workspace_id == actor.workspace_id)
    if types:
        stmt = stmt.where(Event.type.in_(list(types)))
    if channel:
        stmt = stmt.where(Event.channel == channel)
    if since is not None:
        stmt = stmt.where(Event.occurred_at >= since)
    return paginate(session, stmt, RECENT_SORT, sort="-received_at", limit=limit, cursor=cursor)
