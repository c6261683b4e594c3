"""Merging contacts and undoing merges: what moves from the merged contact to the survivor
(identities, account links, empty fields, consent, events, tags), logged so that ``revert``
restores both exactly. ``identity.service`` decides *when* contacts are merged (resolution);
this module does it. Nothing is deleted: the merged contact stays, with status merged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.contact import service as contacts
from guanxi.contact.schemas import STANDARD_FIELDS
from guanxi.errors import Conflict, NotFound
from guanxi.event import touch
from guanxi.i18n import N_
from guanxi.identity import merge_effects, rules
from guanxi.identity import repository as repo
from guanxi.identity.rules import Key, Kind
from guanxi.models import Contact, ContactAccount, ContactConsent, ContactMerge, Identity
from guanxi.tag import holdings as tags


class IdentityConflict(Conflict):
    code = "identity_conflict"
    message = N_(
        "These identities belong to different people ({kinds}): the contacts were not merged."
    )


class MergeNotUndoable(Conflict):
    code = "merge_not_undoable"
    message = N_("This merge cannot be done or undone: {reason}")


def held_keys(identities: Iterable[Identity]) -> list[Key]:
    return [Key(Kind(i.kind), i.namespace, i.value) for i in identities]


def contact_row(session: Session, workspace_id: int, contact_id: int) -> Contact:
    contact = session.get(Contact, (workspace_id, contact_id))
    if contact is None:
        raise NotFound(resource=N_("Contact"))
    return contact


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
    """Merge ``merged`` into ``survivor``: identities, account links, empty fields, consent,
    tags and events move; ``merged`` stays as a record (status merged) and the log says what moved."""
    ws = survivor.workspace_id
    if survivor.id == merged.id or merged.status != "active" or survivor.status != "active":
        raise MergeNotUndoable(reason=N_("both contacts must be distinct and active"))
    theirs = repo.of_contacts(session, ws, [merged.id])
    clash = rules.conflicts(
        held_keys(repo.of_contacts(session, ws, [survivor.id])), held_keys(theirs)
    )
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

    copied_tags = tags.copy_for_merge(session, ws, survivor.id, merged.id)
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
            "tags": copied_tags,
        },
        created_at=now,
    )
    session.add(log)
    session.flush()
    merge_effects.merged(session, log, now)
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
    contacts merged into it before), and take back the fields and tags the merge gave the
    survivor that nobody changed since."""
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
    survivor = contact_row(session, ws, log.survivor_id)
    merged = contact_row(session, ws, log.merged_id)
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
    tags.drop_merge_copies(session, ws, survivor.id, merged.id, log.moved.get("tags", []))
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
    merge_effects.unmerged(session, log, now)
    return log
