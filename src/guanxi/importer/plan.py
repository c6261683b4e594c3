"""Planning one batch of an import, reads only: which rows create contacts, which update the
contact they match, which are skipped, merged or reported — and what that will write."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guanxi.contact import normalise
from guanxi.contact.schemas import STANDARD_FIELDS
from guanxi.i18n import N_, Message
from guanxi.identity import repository as identity_repo
from guanxi.identity import rules
from guanxi.identity.rules import Key, Kind
from guanxi.importer.rows import Parsed, Problem, missing_required
from guanxi.kit.ids import new_id, new_ids
from guanxi.lifecycle import service as lifecycle
from guanxi.models import Account, Contact, CustomField, Membership, User

PROFILE = STANDARD_FIELDS


@dataclass(frozen=True)
class Options:
    """``dedup``: what a row that matches an existing contact does — ``skip`` it, ``update`` the
    contact, or also ``merge`` contacts when a row matches several. ``overwrite``: replace
    non-empty fields (default: only fill empty ones). ``create``: create rows that match no one
    (false: update-only). ``accounts``: ``link`` to existing accounts only (an unknown company is
    a problem) or ``create`` missing ones."""

    dedup: str = "update"
    overwrite: bool = False
    create: bool = True
    accounts: str = "create"
    dry_run: bool = False
    by: int | None = None  # the member importing: updating others' contacts is a collision
    list_id: int | None = None  # a static list the file's contacts go to

    @classmethod
    def of(cls, payload: Mapping[str, Any]) -> Options:
        return cls(
            **{
                k: payload[k]
                for k in ("dedup", "overwrite", "create", "accounts", "dry_run")
                if k in payload
            },
            by=int(payload["by"]) if payload.get("by") else None,
            list_id=int(payload["list_id"]) if payload.get("list_id") else None,
        )


@dataclass
class Counts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    merged: int = 0
    problems: int = 0
    accounts_created: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{k: v + getattr(other, k) for k, v in vars(self).items()})


@dataclass
class Overlay:
    """What the batch being written will have written, for planning the next batch while the
    database works on this one: the identities it adds and the values of the contacts it
    creates or updates. One batch deep — everything older is committed and read from the
    database."""

    keys: dict[Key, int] = field(default_factory=dict)
    held: dict[int, list[Key]] = field(default_factory=lambda: defaultdict(list))
    values: dict[int, dict[str, Any]] = field(default_factory=dict)
    others: dict[int, tuple[int, str | None]] = field(default_factory=dict)  # owner, name


@dataclass
class Batch:
    """What one batch will write, the counts it adds and the line it ends on."""

    line: int = 0
    counts: Counts = field(default_factory=Counts)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    identities: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    merges: list[Parsed] = field(default_factory=list)
    collisions: dict[int, dict[str, Any]] = field(default_factory=dict)  # by contact
    named: set[int] = field(default_factory=set)  # every contact a row names (for the list)
    overlay: Overlay = field(default_factory=Overlay)
    ids: Iterator[int] = field(default_factory=lambda: iter(()))  # drawn in one block
    source: tuple[list[Parsed], list[Problem], int] | None = None  # what it was planned from

    def add_identity(
        self, workspace_id: int, contact_id: int, key: Key, source: str, now: datetime
    ) -> None:
        self.identities.append(
            {
                "workspace_id": workspace_id,
                "id": next(self.ids),
                "contact_id": contact_id,
                "kind": key.kind.value,
                "namespace": key.namespace,
                "value": key.value,
                "source": source,
                "created_at": now,
            }
        )
        self.overlay.keys[key] = contact_id
        self.overlay.held[contact_id].append(key)


class Accounts:
    """The import's view of accounts: matched by domain or normalised name, created once."""

    def __init__(
        self, workspace_id: int, job_id: int, create: bool, required: Sequence[str] = ()
    ) -> None:
        self.workspace_id, self.job_id, self.create = workspace_id, job_id, create
        self.required = required  # account custom fields an account must have to be created
        self.by_domain: dict[str, int] = {}
        self.by_name: dict[str, int] = {}
        self.new: list[dict[str, Any]] = []

    def load(self, session: Session, rows: Sequence[Parsed]) -> None:
        domains = {
            r.account_domain
            for r in rows
            if r.account_domain and r.account_domain not in self.by_domain
        }
        names = {normalise.company_key(r.account_name) for r in rows if r.account_name}
        names = {n for n in names if n and n not in self.by_name}
        if domains:
            for domain, account_id in session.execute(
                select(Account.domain, Account.id).where(
                    Account.workspace_id == self.workspace_id, Account.domain.in_(domains)
                )
            ):
                self.by_domain.setdefault(domain or "", account_id)
        if names:
            for key, account_id in session.execute(
                select(Account.name_key, Account.id)
                .where(Account.workspace_id == self.workspace_id, Account.name_key.in_(names))
                .order_by(Account.id)
            ):
                self.by_name.setdefault(key, account_id)

    def resolve(self, row: Parsed, now: datetime) -> int | Problem | None:
        if not row.account_name and not row.account_domain:
            return None
        key = normalise.company_key(row.account_name) if row.account_name else None
        found = (self.by_domain.get(row.account_domain) if row.account_domain else None) or (
            self.by_name.get(key) if key else None
        )
        if found is not None:
            return found
        if not self.create or not row.account_name:
            return Problem(
                row.line,
                None,
                row.account_name or row.account_domain,
                "unknown_account",
                Message(N_("no such account")),
            )
        missing = [k for k in self.required if row.account_custom.get(k) is None]
        if missing:
            return Problem(
                row.line,
                None,
                row.account_name,
                "missing_required",
                Message(N_("the new account needs: {fields}"), fields=", ".join(missing)),
            )
        account_id = new_id()
        self.new.append(
            {
                "workspace_id": self.workspace_id,
                "id": account_id,
                "name": row.account_name,
                "name_key": (key or row.account_name.lower())[:200],
                "domain": row.account_domain,
                "custom": dict(row.account_custom),
                "import_id": self.job_id,
                "created_at": now,
                "updated_at": now,
            }
        )
        if key:
            self.by_name[key] = account_id
        if row.account_domain:
            self.by_domain[row.account_domain] = account_id
        return account_id


def _owners(session: Session, workspace_id: int, rows: Sequence[Parsed]) -> dict[str, int]:
    emails = {r.owner_email for r in rows if r.owner_email}
    if not emails:
        return {}
    stmt = (
        select(User.email, User.id)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.workspace_id == workspace_id,
            Membership.status == "active",
            User.email.in_(emails),
        )
    )
    return {email: user_id for email, user_id in session.execute(stmt)}


def change_record(values: Mapping[str, Any]) -> dict[str, Any]:
    """A contact's values as an import change keeps them, to put back on cancel (JSON-safe)."""
    before = {f: values[f] for f in PROFILE} | {
        "name_key": values["name_key"],
        "custom": dict(values["custom"] or {}),
    }
    if before.get("owner_id") is not None:
        before["owner_id"] = str(before["owner_id"])
    return before


def values_of(contact: Contact) -> dict[str, Any]:
    return {f: getattr(contact, f) for f in PROFILE} | {
        "name_key": contact.name_key,
        "custom": dict(contact.custom or {}),
    }


def plan(
    session: Session,
    workspace_id: int,
    job_id: int,
    parsed: Sequence[Parsed],
    custom: Mapping[str, CustomField],
    options: Options,
    accounts: Accounts,
    now: datetime,
    overlay: Overlay | None = None,
) -> Batch:
    """Decide every row of a batch (reads only), against the database plus ``overlay``."""
    overlay = overlay or Overlay()
    batch = Batch(ids=iter(new_ids(len(parsed) + sum(len(r.keys) for r in parsed))))
    counts = batch.counts
    source = f"import:{job_id}"
    existing = identity_repo.contact_ids(session, workspace_id, (k for r in parsed for k in r.keys))
    for row in parsed:
        for k in row.keys:
            if k in overlay.keys:
                existing[k] = overlay.keys[k]
    accounts.load(session, parsed)
    owners = _owners(session, workspace_id, parsed)
    stages = (
        lifecycle.peek(session, workspace_id) if any("stage" in r.values for r in parsed) else []
    )
    pending: dict[Key, dict[str, Any]] = {}  # keys of contacts this batch creates
    matched_ids = set(existing.values())
    current = {cid: values for cid, values in overlay.values.items() if cid in matched_ids}
    stored = matched_ids - current.keys()
    # contacts someone else owns, that this import did not create: (owner, name)
    others = {cid: v for cid, v in overlay.others.items() if cid in matched_ids}
    if stored:
        for row_contact in session.scalars(
            select(Contact).where(Contact.workspace_id == workspace_id, Contact.id.in_(stored))
        ):
            current[row_contact.id] = values_of(row_contact)
            if row_contact.import_id != job_id and row_contact.owner_id not in (None, options.by):
                others[row_contact.id] = (row_contact.owner_id, row_contact.name)
    held: dict[int, list[Key]] = defaultdict(list)
    if matched_ids:
        for identity in identity_repo.of_contacts(session, workspace_id, matched_ids):
            held[identity.contact_id].append(
                Key(Kind(identity.kind), identity.namespace, identity.value)
            )
        for cid in matched_ids:
            held[cid].extend(k for k in overlay.held.get(cid, ()) if k not in held[cid])
    for row in parsed:
        if "stage" in row.values:
            stage = lifecycle.find(stages, row.values["stage"])
            if stage is None:
                batch.problems.append(
                    Problem(
                        row.line,
                        "stage",
                        row.values["stage"],
                        "unknown_stage",
                        Message(N_("no such lifecycle stage")),
                    )
                )
                continue
            row.values["stage"] = stage.key
        if row.owner_email:
            if row.owner_email not in owners:
                batch.problems.append(
                    Problem(
                        row.line,
                        "owner",
                        row.owner_email,
                        "unknown_owner",
                        Message(N_("no active member with this email")),
                    )
                )
                continue
            row.values["owner_id"] = owners[row.owner_email]
        account = accounts.resolve(row, now)
        if isinstance(account, Problem):
            batch.problems.append(account)
            continue
        hits = {existing[k] for k in row.keys if k in existing}
        new_hits = {id(pending[k]): pending[k] for k in row.keys if k in pending}
        if len(hits) + len(new_hits) > 1:
            if options.dedup == "merge" and not new_hits:
                row.account_id = account
                batch.merges.append(row)
                continue
            batch.problems.append(
                Problem(
                    row.line,
                    None,
                    None,
                    "matches_several",
                    Message(N_("the row's identities belong to several contacts")),
                )
            )
            continue
        if new_hits:  # a duplicate of a row earlier in this batch
            target = next(iter(new_hits.values()))
            if options.dedup == "skip":
                batch.problems.append(
                    Problem(
                        row.line,
                        None,
                        None,
                        "duplicate",
                        Message(N_("duplicate of line {line}"), line=target["_line"]),
                    )
                )
                counts.skipped += 1
                continue
            clash = rules.conflicts(target["_keys"], row.keys)
            if clash:
                batch.problems.append(
                    Problem(
                        row.line,
                        None,
                        clash[0].value,
                        "identity_conflict",
                        Message(
                            N_("line {line} has another {kind}"),
                            line=target["_line"],
                            kind=clash[0].kind.value,
                        ),
                    )
                )
                continue
            _fill(target, row, overwrite=options.overwrite)
            for k in row.keys:
                if k not in pending:
                    pending[k] = target
                    target["_keys"].append(k)
            counts.updated += 1
            continue
        if not hits:
            if not options.create:
                counts.skipped += 1
                continue
            problem = missing_required(row, custom)
            if problem is not None:
                batch.problems.append(problem)
                continue
            made = next(batch.ids)
            contact = {
                "workspace_id": workspace_id,
                "id": made,
                **{f: row.values.get(f) for f in PROFILE},
                "name_key": row.values.get("name_key"),
                "custom": dict(row.custom),
                "status": "active",
                "merged_into_id": None,
                "import_id": job_id,
                "created_at": now,
                "updated_at": now,
                "_line": row.line,
                "_keys": list(row.keys),
                "_account": (account, row.account_role, row.account_title),
            }
            for k in row.keys:
                pending[k] = contact
            batch.contacts.append(contact)
            batch.named.add(made)
            counts.created += 1
            continue
        contact_id = hits.pop()
        batch.named.add(contact_id)
        if options.dedup == "skip":
            batch.problems.append(
                Problem(
                    row.line,
                    None,
                    None,
                    "duplicate",
                    Message(N_("matches existing contact {id}"), id=contact_id),
                )
            )
            counts.skipped += 1
            continue
        clash = rules.conflicts(held[contact_id], row.keys)
        if clash:
            batch.problems.append(
                Problem(
                    row.line,
                    None,
                    clash[0].value,
                    "identity_conflict",
                    Message(N_("the contact has another {kind}"), kind=clash[0].kind.value),
                )
            )
            continue
        changed = _update(
            batch, workspace_id, job_id, contact_id, current[contact_id], row, options, now
        )
        if changed and contact_id in others and options.by is not None:
            owner, name = others[contact_id]
            batch.collisions[contact_id] = {
                "workspace_id": workspace_id,
                "id": new_id(),
                "object": "contact",
                "object_id": contact_id,
                "owner_id": owner,
                "actor_id": options.by,
                "action": "import",
                "created_at": now,
                "_name": name,
            }
        for k in row.keys:
            if k not in held[contact_id]:
                held[contact_id].append(k)
                batch.add_identity(workspace_id, contact_id, k, source, now)
            existing.setdefault(k, contact_id)  # later rows find the contact by its new keys
        if account is not None:
            batch.links.append(
                {
                    "workspace_id": workspace_id,
                    "contact_id": contact_id,
                    "account_id": account,
                    "role": row.account_role,
                    "title": row.account_title,
                    "reports_to_id": None,
                    "import_id": job_id,
                    "created_at": now,
                }
            )
        counts.updated += 1
    for contact in batch.contacts:
        for k in contact.pop("_keys"):
            batch.add_identity(workspace_id, contact["id"], k, source, now)
        account, role, title = contact.pop("_account")
        contact.pop("_line")
        batch.overlay.values[contact["id"]] = {f: contact[f] for f in PROFILE} | {
            "name_key": contact["name_key"],
            "custom": contact["custom"],
        }
        if account is not None:
            batch.links.append(
                {
                    "workspace_id": workspace_id,
                    "contact_id": contact["id"],
                    "account_id": account,
                    "role": role,
                    "title": title,
                    "reports_to_id": None,
                    "import_id": job_id,
                    "created_at": now,
                }
            )
    batch.overlay.values.update(batch.updates)
    batch.overlay.others = {cid: others[cid] for cid in batch.updates if cid in others}
    batch.accounts, accounts.new = accounts.new, []
    return batch


def _fill(target: dict[str, Any], row: Parsed, *, overwrite: bool) -> None:
    for name, value in row.values.items():
        if overwrite or target.get(name) in (None, ""):
            target[name] = value
    for key, value in row.custom.items():
        if overwrite or target["custom"].get(key) in (None, ""):
            target["custom"][key] = value


def _update(
    batch: Batch,
    workspace_id: int,
    job_id: int,
    contact_id: int,
    current: Mapping[str, Any],
    row: Parsed,
    options: Options,
    now: datetime,
) -> bool:
    """An existing contact's changed fields (and their old values, for a cancel); whether any
    changed."""
    values = batch.updates.get(contact_id) or dict(current) | {"custom": dict(current["custom"])}
    before = change_record(values)
    changed = False
    for name, value in row.values.items():
        if (options.overwrite or values.get(name) in (None, "")) and values.get(name) != value:
            values[name], changed = value, True
    for key, value in row.custom.items():
        if (options.overwrite or values["custom"].get(key) in (None, "")) and values["custom"].get(
            key
        ) != value:
            values["custom"][key], changed = value, True
    if changed:
        if contact_id not in batch.updates:
            batch.changes.append(
                {
                    "workspace_id": workspace_id,
                    "job_id": job_id,
                    "contact_id": contact_id,
                    "before": before,
                }
            )
        batch.updates[contact_id] = values | {"updated_at": now}
    return changed
