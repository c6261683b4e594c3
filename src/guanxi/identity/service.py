"""Identity resolution: the one way contacts are created, identified, merged and unmerged.

Every entry point — the contacts API, identify calls from channels and forms, imports — hands a
set of identities and attributes here. When identities prove that two contacts are one person,
they are merged (``merge``); nothing is deleted, so ``undo`` restores both exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.contact import service as contacts
from guanxi.contact.schemas import STANDARD_FIELDS, ContactFields, IdentityIn
from guanxi.db import bulk_insert
from guanxi.errors import Conflict, Forbidden, InvalidValue, NotFound
from guanxi.event import touch
from guanxi.i18n import N_
from guanxi.identity import repository as repo
from guanxi.identity import rules
from guanxi.identity.rules import ANONYMOUS, PROFILE_FIELD, Candidate, Key, Kind
from guanxi.kit.ids import new_ids
from guanxi.models import Contact, ContactAccount, ContactConsent, ContactMerge, Identity


class IdentityTaken(Conflict):
    code = "identity_taken"
    message = N_("{kind} {value} already belongs to another contact.")


class IdentityConflict(Conflict):
    code = "identity_conflict"
    message = N_(
        "These identities belong to different people ({kinds}): the contacts were not merged."
    )


class MergeNotUndoable(Conflict):
    code = "merge_not_undoable"
    message = N_("This merge cannot be done or undone: {reason}")


class WholeWorkspaceNeeded(Forbidden):
    code = "data_scope_all_required"
    message = N_("Identify resolves across the whole workspace: it needs a data scope of all.")


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


def _keys(identities: Iterable[Identity]) -> list[Key]:
    return [Key(Kind(i.kind), i.namespace, i.value) for i in identities]


def _attach(
    session: Session, contact: Contact, keys: Iterable[Key], source: str | None, now: datetime
) -> None:
    """Give ``contact`` the identities it lacks, and fill its email/phone from them."""
    held = set(_keys(repo.of_contacts(session, contact.workspace_id, [contact.id])))
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
    return contact


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
    clash = rules.conflicts(_keys(repo.of_contacts(session, actor.workspace_id, [contact.id])), [k])
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
    return _keys(repo.of_contacts(session, workspace_id, [contact_id]))


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
    result = Resolution(_contact(session, workspace_id, survivor.id), created=False)
    proof = ", ".join(f"{k.kind.value}" for k in sorted(found))
    for other in candidates:
        if other.id != survivor.id:
            loser = _contact(session, workspace_id, other.id)
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


def _contact(session: Session, workspace_id: int, contact_id: int) -> Contact:
    contact = session.get(Contact, (workspace_id, contact_id))
    if contact is None:
        raise NotFound(resource=N_("Contact"))
    return contact


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
    return resolve(
        session,
        actor.workspace_id,
        keys,
        values,
        overwrite=overwrite,
        source=source,
        actor_id=actor.user_id,
        now=now,
    )


# -- merging ---------------------------------------------------------------------------------


def _standard(contact: Contact) -> dict[str, Any]:
    return {name: getattr(contact, name) for name in STANDARD_FIELDS}


def merge(
    session: Session,
    survivor: Contact,
    merged: Contact,
    reason: str,
    actor_id: int | None,
    now: datetime,
    import_id: int | None = None,
) -> ContactMerge:
    """Merge ``merged`` into ``survivor``: identities, account links, empty fields, consent and
    events move; ``merged`` stays as a record (status merged) and the log says what moved."""
    ws = survivor.workspace_id
    if survivor.id == merged.id or merged.status != "active" or survivor.status != "active":
        raise MergeNotUndoable(reason=N_("both contacts must be distinct and active"))
    theirs = repo.of_contacts(session, ws, [merged.id])
    clash = rules.conflicts(_keys(repo.of_contacts(session, ws, [survivor.id])), _keys(theirs))
    if clash:
        raise IdentityConflict(
            kinds=", ".join(sorted({k.kind.value for k in clash})),
            details={"contact_ids": [str(survivor.id), str(merged.id)]},
        )
    repo.move_identities(session, ws, [i.id for i in theirs], survivor.id)

    links = session.scalars(
        select(ContactAccount).where(
            ContactAccount.workspace_id == ws,
            ContactAccount.contact_id.in_([survivor.id, merged.id]),
        )
    ).all()
    have = {link.account_id for link in links if link.contact_id == survivor.id}
    moved_accounts = []
    for link in links:
        if link.contact_id == merged.id and link.account_id not in have:
            session.add(
                ContactAccount(
                    workspace_id=ws,
                    contact_id=survivor.id,
                    account_id=link.account_id,
                    role=link.role,
                    title=link.title,
                    reports_to_id=link.reports_to_id,
                    created_at=now,
                )
            )
            moved_accounts.append(str(link.account_id))
    reporting = session.scalars(
        select(ContactAccount).where(
            ContactAccount.workspace_id == ws, ContactAccount.reports_to_id == merged.id
        )
    ).all()
    repointed = []
    for r in reporting:
        # the survivor never reports to itself (it may have reported to the merged contact)
        r.reports_to_id = None if r.contact_id == survivor.id else survivor.id
        repointed.append([str(r.account_id), str(r.contact_id)])

    copied = rules.merge_fields(_standard(survivor), _standard(merged))
    custom = rules.merge_fields(survivor.custom or {}, merged.custom or {})
    contacts.apply(survivor, {**copied, "custom": custom}, overwrite=False, now=now)

    consent = {c.channel for c in contacts.consents(session, ws, survivor.id)}
    copied_consent = []
    for row in contacts.consents(session, ws, merged.id):
        if row.channel not in consent:
            session.add(
                ContactConsent(
                    workspace_id=ws,
                    contact_id=survivor.id,
                    channel=row.channel,
                    status=row.status,
                    source=row.source,
                    updated_at=row.updated_at,
                )
            )
            copied_consent.append(row.channel)

    repo.move_events(session, ws, from_contact=merged.id, to=survivor.id, origins=None)
    touches = {"first_touch": survivor.first_touch, "last_touch": survivor.last_touch}
    survivor.first_touch = touch.first(survivor.first_touch, merged.first_touch)
    survivor.last_touch = touch.last(merged.last_touch, survivor.last_touch)
    merged.status, merged.merged_into_id, merged.updated_at = "merged", survivor.id, now
    log = ContactMerge(
        workspace_id=ws,
        survivor_id=survivor.id,
        merged_id=merged.id,
        reason=reason[:255],
        actor_id=actor_id,
        import_id=import_id,
        moved={
            "identities": [str(i.id) for i in theirs],
            "accounts": moved_accounts,
            "reports_to": repointed,
            "fields": {k: (str(v) if k == "owner_id" else v) for k, v in copied.items()},
            "custom": custom,
            "consent": copied_consent,
            "touches": touches,
        },
        created_at=now,
    )
    session.add(log)
    session.flush()
    return log


def merge_manual(
    session: Session, actor: Principal, survivor_id: int, other_id: int, now: datetime
) -> ContactMerge:
    """A person decided these are one (the duplicates screen): ``survivor_id`` survives."""
    survivor = contacts.get(session, actor, survivor_id, write=True)
    other = contacts.get(session, actor, other_id, write=True)
    return merge(session, survivor, other, "manual", actor.user_id, now)


def list_merges(session: Session, actor: Principal, contact_id: int) -> Sequence[ContactMerge]:
    contact = contacts.get(session, actor, contact_id)
    return repo.merges_of(session, actor.workspace_id, contact.id)


def undo(session: Session, actor: Principal, merge_id: int, now: datetime) -> ContactMerge:
    """Restore the merged contact: its identities, links, events (by origin, including those of
    contacts merged into it before) and the fields the merge filled and nobody changed since."""
    actor.require("contacts:write")
    ws = actor.workspace_id
    log = session.get(ContactMerge, (ws, merge_id))
    if log is None:
        raise NotFound(resource=N_("Merge"))
    contacts.get(session, actor, log.survivor_id)  # the survivor must be the actor's to see
    return revert(session, log, actor.user_id, now)


def revert(session: Session, log: ContactMerge, by: int | None, now: datetime) -> ContactMerge:
    """Undo one merge (no permission check: the caller made it, or a cancelled import did)."""
    ws = log.workspace_id
    survivor = _contact(session, ws, log.survivor_id)
    merged = _contact(session, ws, log.merged_id)
    if log.undone_at is not None:
        raise MergeNotUndoable(reason=N_("it was undone already"))
    if survivor.status != "active":
        raise MergeNotUndoable(
            reason=N_("the surviving contact was merged again since; undo that first")
        )
    origins = {merged.id}
    frontier = {merged.id}
    while frontier:
        frontier = repo.merged_into(session, ws, frontier) - origins
        origins |= frontier
    repo.move_events(session, ws, from_contact=survivor.id, to=merged.id, origins=origins)
    identity_ids = [int(i) for i in log.moved.get("identities", [])]
    still = session.scalars(
        select(Identity.id).where(
            Identity.workspace_id == ws,
            Identity.id.in_(identity_ids),
            Identity.contact_id == survivor.id,
        )
    ).all()
    repo.move_identities(session, ws, list(still), merged.id)
    for account_id in log.moved.get("accounts", []):
        link = session.get(ContactAccount, (ws, survivor.id, int(account_id)))
        if link is not None:
            session.delete(link)
    for account_id, contact_id in log.moved.get("reports_to", []):
        session.execute(
            update(ContactAccount)
            .where(
                ContactAccount.workspace_id == ws,
                ContactAccount.account_id == int(account_id),
                ContactAccount.contact_id == int(contact_id),
                or_(
                    ContactAccount.reports_to_id == survivor.id,
                    ContactAccount.reports_to_id.is_(None),
                ),
            )
            .values(reports_to_id=merged.id)
        )
    revert: dict[str, Any] = {}
    for name, value in log.moved.get("fields", {}).items():
        current = getattr(survivor, name)
        if (str(current) if name == "owner_id" and current is not None else current) == value:
            revert[name] = None
    custom_revert = {
        k: None
        for k, v in log.moved.get("custom", {}).items()
        if (survivor.custom or {}).get(k) == v
    }
    contacts.apply(survivor, {**revert, "custom": custom_revert}, overwrite=True, now=now)
    for channel in log.moved.get("consent", []):
        row = session.get(ContactConsent, (ws, survivor.id, channel))
        theirs = session.get(ContactConsent, (ws, merged.id, channel))
        if (
            row is not None
            and theirs is not None
            and (row.status, row.updated_at) == (theirs.status, theirs.updated_at)
        ):
            session.delete(row)
    before = log.moved.get("touches")
    if before is not None:  # touches the merge brought over go back with their contact
        for name in ("first_touch", "last_touch"):
            if getattr(survivor, name) is not None and getattr(survivor, name) == getattr(
                merged, name
            ):
                setattr(survivor, name, before[name])
    merged.status, merged.merged_into_id, merged.updated_at = "active", None, now
    log.undone_at, log.undone_by = now, by
    session.flush()
    return log
