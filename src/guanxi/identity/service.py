"""Identity resolution: the one way contacts are created, identified, merged and unmerged.

Every entry point — the contacts API, identify calls from channels and forms, imports — hands a
set of identities and attributes here. When identities prove that two contacts are one person,
they are merged (``identity.merging``); nothing is deleted, so an undo restores both exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal, WholeWorkspaceNeeded
from guanxi.contact import service as contacts
from guanxi.contact.schemas import ContactFields, IdentityIn
from guanxi.db import bulk_insert
from guanxi.errors import Conflict, InvalidValue, NotFound
from guanxi.event import service as events
from guanxi.i18n import N_
from guanxi.identity import repository as repo
from guanxi.identity import rules
from guanxi.identity.merging import IdentityConflict as IdentityConflict
from guanxi.identity.merging import contact_row, held_keys, merge
from guanxi.identity.rules import ANONYMOUS, PROFILE_FIELD, Candidate, Key, Kind
from guanxi.kit.ids import new_ids
from guanxi.models import Contact, ContactMerge, Identity


class IdentityTaken(Conflict):
    code = "identity_taken"
    message = N_("{kind} {value} already belongs to another contact.")


@dataclass
class Resolution:
    contact: Contact
    created: bool
    merges: list[ContactMerge] = field(default_factory=list)


def keys_of(identities: Iterable[IdentityIn], values: Mapping[str, Any]) -> list[Key]:
    """The identities a request names, with its email and phone fields counted among them."""
    found: set[Key] = set()
    try:
        for item in identities:
            found.add(rules.key(item.kind, item.value, item.namespace))
        for kind, name in PROFILE_FIELD.items():
            if values.get(name):
                found.add(rules.key(kind.value, values[name]))
    except InvalidValue as exc:
        raise contacts.InvalidField(reason=exc.message) from exc
    return sorted(found)


def _attach(
    session: Session, contact: Contact, keys: Iterable[Key], source: str | None, now: datetime
) -> None:
    """Give ``contact`` the identities it lacks, and fill its email/phone from them."""
    held = set(held_keys(repo.of_contacts(session, contact.workspace_id, [contact.id])))
    for k in keys:
        if k in held:
            continue
        session.add(
            Identity(
                workspace_id=contact.workspace_id,
                contact_id=contact.id,
                kind=k.kind.value,
                namespace=k.namespace,
                value=k.value,
                source=source,
                created_at=now,
            )
        )
        name = PROFILE_FIELD.get(k.kind)
        if name and not getattr(contact, name):
            contacts.apply(contact, {name: k.value}, overwrite=False, now=now)
    session.flush()


def _values(
    session: Session, workspace_id: int, data: ContactFields, *, complete: bool
) -> dict[str, Any]:
    values = data.model_dump(exclude_unset=True, exclude={"identities"})
    contacts.check_owner(session, workspace_id, values.get("owner_id"))
    if complete:
        values.setdefault("custom", {})
    if "custom" in values:
        values["custom"] = contacts.clean_custom(
            session, workspace_id, values["custom"], complete=complete
        )
    return values


def create_contact(
    session: Session,
    actor: Principal,
    data: ContactFields,
    identities: Sequence[IdentityIn],
    now: datetime,
) -> Contact:
    """A new contact. An identity that belongs to someone already is refused (409), never merged
    silently: ``identify`` is the call that merges."""
    actor.require("contacts:write")
    values = _values(session, actor.workspace_id, data, complete=True)
    keys = keys_of(identities, values)
    taken = repo.find(session, actor.workspace_id, keys)
    if taken:
        k, identity = next(iter(sorted(taken.items())))
        raise IdentityTaken(
            kind=k.kind.value, value=k.value, details={"contact_id": str(identity.contact_id)}
        )
    contact = contacts.new_contact(session, actor.workspace_id, values, now)
    _attach(session, contact, keys, values.get("source") or "api", now)
    profile_updated(session, contact, values, now)
    return contact


def update_contact(
    session: Session, actor: Principal, contact_id: int, changes: Mapping[str, Any], now: datetime
) -> Contact:
    """Change fields; a new email or phone becomes an identity too (refused if someone has it).
    The previous email or phone stays among the contact's identities."""
    contact = contacts.get(session, actor, contact_id, write=True)
    values = dict(changes)
    contacts.check_owner(session, actor.workspace_id, values.get("owner_id"))
    if values.get("custom"):
        values["custom"] = contacts.clean_custom(
            session,
            actor.workspace_id,
            {k: v for k, v in values["custom"].items() if v is not None},
            complete=False,
        ) | {k: None for k, v in values["custom"].items() if v is None}
    elif "custom" in values:
        values.pop("custom")
    keys = keys_of([], values)
    for k, identity in repo.find(session, actor.workspace_id, keys).items():
        if identity.contact_id != contact.id:
            raise IdentityTaken(
                kind=k.kind.value, value=k.value, details={"contact_id": str(identity.contact_id)}
            )
    contacts.apply(contact, values, overwrite=True, now=now)
    _attach(session, contact, keys, "api", now)
    profile_updated(session, contact, values, now)
    return contact


def profile_updated(
    session: Session, contact: Contact, values: Mapping[str, Any], now: datetime
) -> None:
    names = [k for k in values if k != "custom"] + [
        f"custom.{k}" for k in values.get("custom") or {}
    ]
    events.profile_updated(session, contact.workspace_id, [contact.id], names, now)


def add_identity(
    session: Session, actor: Principal, contact_id: int, item: IdentityIn, now: datetime
) -> Identity:
    contact = contacts.get(session, actor, contact_id, write=True)
    k = keys_of([item], {})[0]
    existing = repo.find(session, actor.workspace_id, [k]).get(k)
    if existing is not None and existing.contact_id != contact.id:
        raise IdentityTaken(
            kind=k.kind.value, value=k.value, details={"contact_id": str(existing.contact_id)}
        )
    clash = rules.conflicts(
        held_keys(repo.of_contacts(session, actor.workspace_id, [contact.id])), [k]
    )
    if clash:
        raise IdentityConflict(kinds=k.kind.value)
    _attach(session, contact, [k], "api", now)
    return repo.find(session, actor.workspace_id, [k])[k]


def remove_identity(session: Session, actor: Principal, contact_id: int, identity_id: int) -> None:
    contact = contacts.get(session, actor, contact_id, write=True)
    identity = session.get(Identity, (actor.workspace_id, identity_id))
    if identity is None or identity.contact_id != contact.id:
        raise NotFound(resource=N_("Identity"))
    session.delete(identity)
    session.flush()


def lookup(session: Session, workspace_id: int, keys: Iterable[Key]) -> dict[Key, int]:
    """The contact of every identity among ``keys`` that exists (one query per kind)."""
    return repo.contact_ids(session, workspace_id, keys)


def identities_of(session: Session, workspace_id: int, contact_id: int) -> list[Key]:
    return held_keys(repo.of_contacts(session, workspace_id, [contact_id]))


def resolve(
    session: Session,
    workspace_id: int,
    keys: Sequence[Key],
    values: Mapping[str, Any],
    *,
    overwrite: bool,
    source: str | None,
    actor_id: int | None,
    now: datetime,
    import_id: int | None = None,
) -> Resolution:
    """Find or create the one contact these identities name; merge the contacts they prove to
    be one person; refuse (409) when singular identities say they are different people.
    ``import_id``: the import doing it, whose cancel undoes the merges."""
    found = repo.find(session, workspace_id, keys)
    ids = sorted({i.contact_id for i in found.values()})
    if not ids:
        contact = contacts.new_contact(session, workspace_id, {"source": source, **values}, now)
        _attach(session, contact, keys, source, now)
        return Resolution(contact, created=True)
    held = repo.of_contacts(session, workspace_id, ids)
    by_contact: dict[int, list[Key]] = {i: [] for i in ids}
    for identity in held:
        by_contact[identity.contact_id].append(
            Key(Kind(identity.kind), identity.namespace, identity.value)
        )
    union: list[Key] = []
    for contact_id in ids:
        clash = rules.conflicts(union, by_contact[contact_id])
        if clash:
            raise IdentityConflict(
                kinds=", ".join(sorted({k.kind.value for k in clash})),
                details={"contact_ids": [str(i) for i in ids]},
            )
        union += by_contact[contact_id]
    clash = rules.conflicts(union, keys)
    if clash:
        raise IdentityConflict(
            kinds=", ".join(sorted({k.kind.value for k in clash})),
            details={"contact_ids": [str(i) for i in ids]},
        )
    candidates = [Candidate(i, all(k.kind in ANONYMOUS for k in by_contact[i])) for i in ids]
    survivor = candidates[0]
    for other in candidates[1:]:
        survivor, _ = rules.survivor(survivor, other)
    result = Resolution(contact_row(session, workspace_id, survivor.id), created=False)
    proof = ", ".join(f"{k.kind.value}" for k in sorted(found))
    for other in candidates:
        if other.id != survivor.id:
            loser = contact_row(session, workspace_id, other.id)
            result.merges.append(
                merge(
                    session,
                    result.contact,
                    loser,
                    f"identify: {proof}",
                    actor_id,
                    now,
                    import_id=import_id,
                )
            )
    contacts.apply(result.contact, values, overwrite=overwrite, now=now)
    _attach(session, result.contact, keys, source, now)
    return result


def create_people(
    session: Session,
    workspace_id: int,
    keysets: Sequence[Sequence[Key]],
    *,
    source: str | None,
    now: datetime,
) -> list[int]:
    """A new contact for each set of identities, none of which exists yet (the unique index
    refuses the lot otherwise: callers hold a savepoint and fall back to ``resolve``). The bulk
    path for batches of new visitors; email and phone identities fill those fields, as
    ``resolve`` does."""
    ids = new_ids(len(keysets))
    people: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    for contact_id, keys in zip(ids, keysets, strict=True):
        person: dict[str, Any] = {
            "workspace_id": workspace_id,
            "id": contact_id,
            "email": None,
            "phone": None,
            "source": source,
            "custom": {},
            "status": "active",
            "created_at": now,
            "updated_at": now,
        }
        for k in keys:
            name = PROFILE_FIELD.get(k.kind)
            if name and person[name] is None:
                person[name] = k.value
            held.append(
                {
                    "workspace_id": workspace_id,
                    "contact_id": contact_id,
                    "kind": k.kind.value,
                    "namespace": k.namespace,
                    "value": k.value,
                    "source": source,
                    "created_at": now,
                }
            )
        people.append(person)
    held.sort(key=lambda r: (r["kind"], r["namespace"], r["value"]))  # one order: no deadlock
    for row, identity_id in zip(held, new_ids(len(held)), strict=True):
        row["id"] = identity_id
    bulk_insert(session, Contact, people)
    bulk_insert(session, Identity, held)
    return ids


def resolve_racing(
    session: Session,
    workspace_id: int,
    keys: Sequence[Key],
    values: Mapping[str, Any],
    *,
    source: str | None,
    now: datetime,
) -> Resolution:
    """``resolve`` for traffic that can race itself (a browser's beacons, a channel's callbacks):
    when another transaction created one of these identities after we looked (the unique index
    refused ours), the attempt is rolled back to its savepoint and made again, finding it."""
    for attempt in range(2):
        try:
            with session.begin_nested():
                return resolve(
                    session,
                    workspace_id,
                    keys,
                    values,
                    overwrite=False,
                    source=source,
                    actor_id=None,
                    now=now,
                )
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def identify(
    session: Session,
    actor: Principal,
    identities: Sequence[IdentityIn],
    attributes: ContactFields,
    *,
    overwrite: bool,
    source: str | None,
    now: datetime,
) -> Resolution:
    actor.require("contacts:write")
    if actor.data_scope.value != "all":
        raise WholeWorkspaceNeeded()
    values = _values(session, actor.workspace_id, attributes, complete=False)
    keys = keys_of(identities, values)
    result = resolve(
        session,
        actor.workspace_id,
        keys,
        values,
        overwrite=overwrite,
        source=source,
        actor_id=actor.user_id,
        now=now,
    )
    profile_updated(session, result.contact, values, now)
    return result
