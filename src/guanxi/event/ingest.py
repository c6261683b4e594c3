"""Batch ingestion (E1): up to 1,000 events, each naming its person by any identity, checked
one by one — a bad event is rejected with its index, code and reason while the others are
stored — resolved to contacts and stored through ``service.store`` in one transaction.

Resolution is batched: one lookup finds the contacts of every identity the batch names; only
events that bring an identity not seen before (a new visitor, an identity to attach, two
contacts to merge) go through the identity service one at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from guanxi.errors import InvalidValue
from guanxi.event import catalogue, service, types
from guanxi.event import repository as repo
from guanxi.event.batch_schemas import BatchEventIn
from guanxi.event.records import Draft
from guanxi.i18n import N_, Message
from guanxi.identity import service as resolution
from guanxi.identity.rules import Key, key

FUTURE_SKEW = timedelta(minutes=5)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_EVENT = TypeAdapter(BatchEventIn)


@dataclass(frozen=True)
class Result:
    status: str  # accepted | duplicate | rejected
    event_id: int | None = None
    contact_id: int | None = None
    code: str | None = None
    message: Message | None = None


def _rejected(code: str, message: Message) -> Result:
    return Result("rejected", code=code, message=message)


def _parse(raw: Any) -> BatchEventIn | Result:
    try:
        return _EVENT.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "event"
        return _rejected(
            "invalid_event", Message(N_("{field}: {reason}"), field=where, reason=first["msg"])
        )


def _keys(event: BatchEventIn) -> list[Key] | Result:
    try:
        keys = {key(i.kind, i.value, i.namespace) for i in event.identities}
    except InvalidValue as exc:
        return _rejected("invalid_identity", exc.message)
    if event.anonymous_id is not None:
        try:
            keys.add(key("anonymous_id", event.anonymous_id))
        except InvalidValue as exc:
            return _rejected("invalid_identity", exc.message)
    return sorted(keys)


def ingest(
    session: Session,
    workspace_id: int,
    raw_events: Sequence[Mapping[str, Any] | Any],
    *,
    source: str | None,
    now: datetime,
) -> list[Result]:
    """One result per event, in order."""
    results: list[Result | None] = [None] * len(raw_events)
    parsed: dict[int, BatchEventIn] = {}
    for i, raw in enumerate(raw_events):
        event = _parse(raw)
        if isinstance(event, Result):
            results[i] = event
        else:
            parsed[i] = event
    specs = types.specs(session, workspace_id, {e.type for e in parsed.values()})
    persons: dict[int, list[Key]] = {}
    for i, event in list(parsed.items()):
        found = service.problem(specs.get(event.type), event.type, event.properties, internal=False)
        insane = catalogue.sane({"channel": event.channel, "properties": event.properties})
        if found is None and insane is not None:
            found = ("invalid_properties", insane)
        at = event.occurred_at or now
        keys = _keys(event)
        if found is not None:
            results[i] = _rejected(*found)
        elif at > now + FUTURE_SKEW:
            results[i] = _rejected(
                "event_in_future", Message(N_("occurred_at is in the future: {at}"), at=at)
            )
        elif at < EARLIEST:
            results[i] = _rejected(
                "event_too_old", Message(N_("occurred_at is before 2000: {at}"), at=at)
            )
        elif isinstance(keys, Result):
            results[i] = keys
        elif keys and event.contact_id is not None:
            results[i] = _rejected(
                "invalid_event",
                Message(N_("give contact_id or identities and anonymous_id, not both")),
            )
        elif not keys and event.contact_id is None:
            results[i] = _rejected(
                "no_person",
                Message(
                    N_("the event names no person: give identities, anonymous_id or contact_id")
                ),
            )
        else:
            persons[i] = keys
            continue
        del parsed[i]
    contacts = _resolve(session, workspace_id, parsed, persons, results, source, now)
    drafts = [
        Draft.of(event, contacts[i], source, now) for i, event in parsed.items() if i in contacts
    ]
    order = [i for i in parsed if i in contacts]
    for i, outcome in zip(order, service.store(session, workspace_id, drafts, now), strict=True):
        results[i] = Result(
            "duplicate" if outcome.duplicate else "accepted",
            event_id=outcome.event_id,
            contact_id=outcome.contact_id,
        )
    return [r for r in results if r is not None]


def _resolve(
    session: Session,
    workspace_id: int,
    parsed: Mapping[int, BatchEventIn],
    persons: Mapping[int, list[Key]],
    results: list[Result | None],
    source: str | None,
    now: datetime,
) -> dict[int, int]:
    """The contact of each event (index -> contact id); events whose person cannot be resolved
    get their rejection in ``results``."""
    given = repo.current_contacts(
        session, workspace_id, {e.contact_id for e in parsed.values() if e.contact_id}
    )
    known = resolution.lookup(session, workspace_id, {k for ks in persons.values() for k in ks})
    _create_new_people(session, workspace_id, persons, known, source, now)
    merged: dict[int, int] = {}  # merged contact -> survivor, for events resolved before
    contacts: dict[int, int] = {}
    for i, event in parsed.items():
        keys = persons[i]
        if event.contact_id is not None:
            if event.contact_id in given:
                contacts[i] = given[event.contact_id]
            else:
                results[i] = _rejected(
                    "unknown_contact",
                    Message(N_("no contact with id {id}"), id=str(event.contact_id)),
                )
            continue
        held = {known[k] for k in keys if k in known}
        if len(held) == 1 and all(k in known for k in keys):
            contacts[i] = held.pop()
            continue
        try:
            found = resolution.resolve_racing(
                session, workspace_id, keys, {}, source=source, now=now
            )
        except resolution.IdentityConflict as exc:
            results[i] = _rejected("identity_conflict", Message(exc.text, **exc.params))
            continue
        contacts[i] = found.contact.id
        for k in keys:
            known[k] = found.contact.id
        for log in found.merges:
            merged[log.merged_id] = log.survivor_id
    if merged:
        for i, contact_id in contacts.items():
            while contact_id in merged:
                contact_id = merged[contact_id]
            contacts[i] = contact_id
        for k, contact_id in known.items():
            while contact_id in merged:
                contact_id = merged[contact_id]
            known[k] = contact_id
    return contacts


def _create_new_people(
    session: Session,
    workspace_id: int,
    persons: Mapping[int, list[Key]],
    known: dict[Key, int],
    source: str | None,
    now: datetime,
) -> None:
    """Create, in bulk, the people whose identities are all new and named by no other event of
    the batch in another combination (new visitors, mostly); adds them to ``known``. The rest —
    and everyone, when a concurrent request created one of these identities first — go through
    the identity service one at a time, which gives the same result for them."""
    fresh: dict[frozenset[Key], None] = {}
    elsewhere: dict[Key, set[frozenset[Key]]] = {}
    for keys in persons.values():
        if not keys:
            continue
        group = frozenset(keys)
        for k in keys:
            elsewhere.setdefault(k, set()).add(group)
        if not any(k in known for k in keys):
            fresh[group] = None
    groups = [g for g in fresh if all(elsewhere[k] == {g} for k in g)]
    if not groups:
        return
    try:
        with session.begin_nested():
            ids = resolution.create_people(
                session, workspace_id, [sorted(g) for g in groups], source=source, now=now
            )
    except IntegrityError:
        return
    for group, contact_id in zip(groups, ids, strict=True):
        for k in group:
            known[k] = contact_id
