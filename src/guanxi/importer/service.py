"""Running an import: batches of rows matched to contacts by identity, written in bulk, with a
checkpoint per batch (a crashed worker's successor resumes there) and a compensating cancel that
leaves the workspace as it was.

Per batch: parse rows (pure), look up every identity they name in one query per kind, decide for
each row — new contact, update of the one it matches, skip, merge, or a reported problem — then
write new contacts and identities with COPY (PostgreSQL) or multi-row INSERT (SQLite), update
matched contacts by primary key, and commit together with the checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from guanxi.contact import fields as custom_fields
from guanxi.db import analyze, bulk_insert, in_list, transaction
from guanxi.errors import GuanxiError
from guanxi.i18n import Language, Message
from guanxi.identity import repository as identity_repo
from guanxi.identity import service as resolution
from guanxi.importer import followups, reader
from guanxi.importer.plan import (
    PROFILE,
    Accounts,
    Batch,
    Counts,
    Options,
    Overlay,
    change_record,
    plan,
    values_of,
)
from guanxi.importer.rows import Parsed, Problem, columns, parse
from guanxi.importer.undo import cancel
from guanxi.kit.clock import utcnow
from guanxi.lifecycle import service as lifecycle
from guanxi.models import (
    Account,
    Collision,
    Contact,
    ContactAccount,
    CustomField,
    Identity,
    ImportChange,
    ImportError_,
    Job,
    Segment,
)
from guanxi.notification import service as notifications
from guanxi.segment import membership
from guanxi.worker.jobs import JobContext

BATCH = 5000


def _merge(
    session: Session, workspace_id: int, job_id: int, row: Parsed, now: datetime
) -> resolution.Resolution:
    """A row naming several contacts, merged by the identity service; the surviving contact's
    values before are kept (as for any update), and the merges carry the import's id — a
    cancel undoes both."""
    found = identity_repo.find(session, workspace_id, row.keys)
    ids = {identity.contact_id for identity in found.values()}
    before = {
        contact.id: change_record(values_of(contact))
        for contact in session.scalars(
            select(Contact).where(Contact.workspace_id == workspace_id, Contact.id.in_(ids))
        )
    }
    result = resolution.resolve(
        session,
        workspace_id,
        row.keys,
        {**row.values, "custom": row.custom},
        overwrite=False,
        source=f"import:{job_id}",
        actor_id=None,
        now=now,
        import_id=job_id,
    )
    if result.created:  # the row's identities were gone by now: a new contact, the import's
        result.contact.import_id = job_id
    survivor = result.contact.id
    if row.account_id is not None and (
        session.get(ContactAccount, (workspace_id, survivor, row.account_id)) is None
    ):
        session.add(
            ContactAccount(
                workspace_id=workspace_id,
                contact_id=survivor,
                account_id=row.account_id,
                role=row.account_role,
                title=row.account_title,
                import_id=job_id,
                created_at=now,
            )
        )
    if survivor in before and session.get(ImportChange, (workspace_id, job_id, survivor)) is None:
        session.add(
            ImportChange(
                workspace_id=workspace_id,
                job_id=job_id,
                contact_id=survivor,
                before=before[survivor],
            )
        )
    return result


@dataclass
class Told:
    """The collisions this run of an import has recorded: contacts, and owners notified. The
    batch being written adds to ``pending``, kept apart until it commits, so that a batch rolled
    back (and planned again) forgets its own without copying the sets every batch."""

    contacts: set[int] = field(default_factory=set)
    owners: set[int] = field(default_factory=set)
    pending: tuple[set[int], set[int]] = field(default_factory=lambda: (set(), set()))

    def contact(self, contact_id: int) -> bool:
        """True the first time a contact is seen (then pending)."""
        if contact_id in self.contacts or contact_id in self.pending[0]:
            return False
        self.pending[0].add(contact_id)
        return True

    def owner(self, owner_id: int) -> bool:
        if owner_id in self.owners or owner_id in self.pending[1]:
            return False
        self.pending[1].add(owner_id)
        return True

    def settle(self, committed: bool) -> None:
        if committed:
            self.contacts |= self.pending[0]
            self.owners |= self.pending[1]
        self.pending = (set(), set())


def _collisions(
    session: Session,
    workspace_id: int,
    job_id: int,
    batch: Batch,
    now: datetime,
    told: Told,
) -> None:
    rows = [r for cid, r in batch.collisions.items() if told.contact(cid)]
    names = {row["object_id"]: row.pop("_name") for row in rows}
    bulk_insert(session, Collision, rows)
    for row in rows:
        owner = row["owner_id"]
        if not told.owner(owner):
            continue
        payload = {
            "object": "contact",
            "object_id": str(row["object_id"]),
            "name": names[row["object_id"]] or "",
            "actor_id": str(row["actor_id"]),
            "action": "import",
            "import_id": str(job_id),
        }
        notifications.notify(session, workspace_id, owner, "collision", payload, now)


def write(
    session: Session,
    workspace_id: int,
    job_id: int,
    batch: Batch,
    now: datetime,
    language: Language,
    told: Told,
    by: int | None = None,
    list_id: int | None = None,
) -> None:
    """Write a planned batch, in the session's transaction; problems are reported in
    ``language`` (the one the import was started in). Contacts of other owners whose values
    the batch changes are collisions, once per contact and import; each owner is told once.
    Stages the batch sets are moves made by ``by``, the member importing (cause import). The
    contacts the rows name go to the static list ``list_id`` (if it is still there)."""
    counts = batch.counts
    _collisions(session, workspace_id, job_id, batch, now, told)
    bulk_insert(session, Account, batch.accounts)
    counts.accounts_created += len(batch.accounts)
    # Rows in the order of their most scattered index (names, identity values): each index page
    # is then visited once per batch, not once per row.
    bulk_insert(session, Contact, sorted(batch.contacts, key=lambda c: c["name_key"] or ""))
    bulk_insert(session, Identity, sorted(batch.identities, key=lambda i: (i["kind"], i["value"])))
    if batch.changes:
        existing = set(
            session.scalars(
                select(ImportChange.contact_id).where(
                    ImportChange.workspace_id == workspace_id,
                    ImportChange.job_id == job_id,
                    ImportChange.contact_id.in_([c["contact_id"] for c in batch.changes]),
                )
            )
        )
        bulk_insert(
            session,
            ImportChange,
            [c for c in batch.changes if c["contact_id"] not in existing],
        )
    if batch.updates:
        session.execute(
            update(Contact),
            [
                {"workspace_id": workspace_id, "id": cid, **values}
                for cid, values in batch.updates.items()
            ],
        )
    if batch.links:
        have = {
            (contact_id, account_id)
            for contact_id, account_id in session.execute(
                select(ContactAccount.contact_id, ContactAccount.account_id).where(
                    ContactAccount.workspace_id == workspace_id,
                    in_list(
                        session,
                        ContactAccount.contact_id,
                        {link["contact_id"] for link in batch.links},
                    ),
                )
            )
        }
        fresh = {}
        for link in batch.links:
            if (link["contact_id"], link["account_id"]) not in have:
                fresh[(link["contact_id"], link["account_id"])] = link
        bulk_insert(session, ContactAccount, list(fresh.values()))
    for row in batch.merges:
        # each merge in a savepoint: identities of two different people are that row's problem,
        # not the batch's
        try:
            with session.begin_nested():
                result = _merge(session, workspace_id, job_id, row, now)
        except GuanxiError as exc:
            batch.problems.append(
                Problem(row.line, None, None, exc.code, Message(exc.text, **exc.params))
            )
            continue
        counts.merged += len(result.merges)
        counts.updated += 1
        batch.named.add(result.contact.id)
    bulk_insert(
        session,
        ImportError_,
        [
            {
                "workspace_id": workspace_id,
                "job_id": job_id,
                "line": p.line,
                "column": p.column,
                "value": p.value,
                "reason": p.reason,
                "message": p.message.render(language)[:500],
            }
            for p in batch.problems
        ],
    )
    counts.problems += sum(1 for p in batch.problems if p.reason != "duplicate")
    lifecycle.record_import(session, workspace_id, _moves(batch), job_id, by, now)
    chosen = session.get(Segment, (workspace_id, list_id)) if list_id else None
    if chosen is not None and chosen.kind == "static" and batch.named:
        membership.write_changes(
            session,
            workspace_id,
            {chosen.id: (batch.named, set())},
            {chosen.id: chosen.name},
            "import",
            now,
            emit=False,  # an import is not each person's doing: history, no timeline events
        )


def _moves(batch: Batch) -> list[tuple[int, str | None, str]]:
    """(contact, from, to) for every contact whose stage the batch sets or changes."""
    before = {c["contact_id"]: c["before"].get("stage") for c in batch.changes}
    found: list[tuple[int, str | None, str]] = [
        (c["id"], None, c["stage"]) for c in batch.contacts if c.get("stage")
    ]
    for contact_id, values in batch.updates.items():
        if values.get("stage") and values["stage"] != before.get(contact_id):
            found.append((contact_id, before.get(contact_id), values["stage"]))
    return found


class Clash(Exception):
    """A batch's write met a unique key written since it was planned (a contact created through
    the API meanwhile, with the same email): nothing of it was written; it is planned again."""

    def __init__(self, batch: Batch) -> None:
        super().__init__("an identity was written by someone else meanwhile")
        self.batch = batch


class Writer:
    """Writes planned batches one after another on a second thread, each in one transaction
    with its checkpoint, while the caller reads, parses and plans the next batch against the
    database plus the batch in flight (``overlay``). The database's work (index upkeep,
    foreign-key checks) then overlaps with Python's. ``overlap=False`` waits for every write:
    merges rewrite contacts in ways an overlay cannot follow."""

    def __init__(self, context: JobContext, counts: Counts, overlap: bool) -> None:
        self.context, self.counts, self.overlap = context, counts, overlap
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="import-writer")
        self.flight: Future[bool] | None = None
        self.overlay = Overlay()
        self.batches = 0
        self.told = Told()

    def submit(self, batch: Batch) -> bool:
        """Hand over a planned batch; True when a cancel was requested (nothing in flight)."""
        if self.wait():
            return True
        self.overlay = batch.overlay
        self.flight = self.pool.submit(self._write, batch)
        return self.wait() if not self.overlap else False

    def wait(self) -> bool:
        """Wait for the batch in flight; True when a cancel was requested."""
        if self.flight is None:
            return False
        flight, self.flight = self.flight, None
        self.overlay = Overlay()
        return flight.result()

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def _write(self, batch: Batch) -> bool:
        context = self.context
        now = utcnow()
        try:
            with transaction(context.factory) as session:
                write(
                    session,
                    context.workspace_id,
                    context.job_id,
                    batch,
                    now,
                    context.payload.get("language", "zh_CN"),
                    self.told,
                    Options.of(context.payload).by,
                    Options.of(context.payload).list_id,
                )
                total = self.counts + batch.counts
                cancel = context.checkpoint(
                    {"line": batch.line, "counts": total.as_dict()}, session
                )
        except BaseException as exc:
            self.told.settle(committed=False)
            if isinstance(exc, IntegrityError | psycopg.IntegrityError):
                raise Clash(batch) from exc
            raise
        self.told.settle(committed=True)
        self.counts = total
        self.batches += 1
        if self.batches & (self.batches - 1) == 0:
            # the tables grow fast: fresh statistics at batches 1, 2, 4, 8 … keep lookups on
            # their indexes, during the import and after it
            with transaction(context.factory) as session:
                analyze(session, "identity", "contact", "account")
        return cancel


def run(context: JobContext, path: Path) -> str:
    """The import job: resumes after its checkpoint; stops (and rolls back) when cancelled."""
    if context.cancel_requested:  # a failed import, queued again to be rolled back
        return cancel(context)
    options = Options.of(context.payload)
    mapping: dict[str, str] = context.payload["mapping"]
    file = reader.FileShape(**context.payload["shape"])
    done_line = int(context.progress.get("line", 0))
    counts = Counts(**context.progress.get("counts", {}))
    with transaction(context.factory) as session:
        custom = custom_fields.definitions(session, context.workspace_id, "contact")
        account_custom = custom_fields.definitions(session, context.workspace_id, "account")
    accounts = Accounts(
        context.workspace_id,
        context.job_id,
        options.accounts == "create",
        [k for k, f in account_custom.items() if f.required],
    )
    if options.dry_run:
        return _preview(
            context,
            path,
            file,
            mapping,
            (custom, account_custom),
            options,
            accounts,
            counts,
            done_line,
        )
    writer = Writer(context, counts, overlap=options.dedup != "merge")
    try:
        for rows in _batches(path, file, mapping, custom, account_custom, done_line):
            batch = _plan(context, rows, custom, options, accounts, writer.overlay)
            try:
                stop = writer.submit(batch)
            except Clash as clash:  # the batch in flight, and this one planned on top of it
                again = [clash.batch] + ([batch] if batch is not clash.batch else [])
                stop = _replan(context, writer, accounts, again, custom, options)
            if stop:
                return cancel(context)
        try:
            stop = writer.wait()
        except Clash as clash:
            stop = _replan(context, writer, accounts, [clash.batch], custom, options)
        if stop:
            return cancel(context)
    finally:
        writer.close()
    with transaction(context.factory) as session:
        analyze(session, "identity", "contact", "account")
    finished = {
        **context.progress,
        "line": max(done_line, int(context.progress.get("line", 0))),
        "counts": writer.counts.as_dict(),
        "finished": True,
    }
    with transaction(context.factory) as session:
        cancelled = context.checkpoint(finished, session)  # a cancel after the last batch
        if not cancelled:  # what events would have set off, with the import's commit
            job = session.get(Job, (context.workspace_id, context.job_id))
            followups.start(
                session, context.workspace_id, job.created_by if job else None, utcnow()
            )
    if cancelled:
        return cancel(context)
    return "done"


def _replan(
    context: JobContext,
    writer: Writer,
    accounts: Accounts,
    batches: list[Batch],
    custom: dict[str, CustomField],
    options: Options,
) -> bool:
    """Plan ``batches`` again against the database alone and write each before planning the
    next; True when a cancel was requested. Accounts they were to create go back to be
    created by the new plans. A second clash fails the import (its checkpoint stays)."""
    accounts.new = [a for b in batches for a in b.accounts] + accounts.new
    for failed in batches:
        assert failed.source is not None
        batch = _plan(context, failed.source, custom, options, accounts, None)
        try:
            if writer.submit(batch) or writer.wait():
                return True
        except Clash as clash:
            raise RuntimeError("the import met concurrent writes twice in one batch") from clash
    return False


def _plan(
    context: JobContext,
    rows: tuple[list[Parsed], list[Problem], int],
    custom: dict[str, CustomField],
    options: Options,
    accounts: Accounts,
    overlay: Overlay | None,
) -> Batch:
    """Plan one batch of parsed rows (reads only), with their problems, count and last line."""
    parsed, problems, last = rows
    with transaction(context.factory) as session:
        batch = plan(
            session,
            context.workspace_id,
            context.job_id,
            parsed,
            custom,
            options,
            accounts,
            utcnow(),
            overlay,
        )
    batch.problems = problems + batch.problems
    batch.counts.rows = len(parsed) + len(problems)
    batch.line, batch.source = last, rows
    return batch


def _batches(
    path: Path,
    file: reader.FileShape,
    mapping: dict[str, str],
    custom: dict[str, CustomField],
    account_custom: dict[str, CustomField],
    done_line: int,
) -> Iterator[tuple[list[Parsed], list[Problem], int]]:
    """The rows after ``done_line``, parsed, in batches of ``BATCH``: (rows, problems, last line)."""
    parsed: list[Parsed] = []
    problems: list[Problem] = []
    last = done_line
    mapped = columns(file.headers, mapping)
    for line, cells in reader.records(path, file):
        if line <= done_line:
            continue
        result = parse(line, cells, mapped, custom, account_custom)
        if isinstance(result, Problem):
            problems.append(result)
        else:
            parsed.append(result)
        last = line
        if len(parsed) + len(problems) >= BATCH:
            yield parsed, problems, last
            parsed, problems = [], []
    if parsed or problems:
        yield parsed, problems, last


def _preview(
    context: JobContext,
    path: Path,
    file: reader.FileShape,
    mapping: dict[str, str],
    fields: tuple[dict[str, CustomField], dict[str, CustomField]],
    options: Options,
    accounts: Accounts,
    counts: Counts,
    done_line: int,
) -> str:
    """A dry run: every batch planned (and the first contacts kept as a sample), nothing
    written. Accounts it would create are remembered, so later rows link to them as a real
    import would."""
    custom, account_custom = fields
    for rows in _batches(path, file, mapping, custom, account_custom, done_line):
        batch = _plan(context, rows, custom, options, accounts, None)
        batch.counts.problems = sum(1 for p in batch.problems if p.reason != "duplicate")
        counts = counts + batch.counts
        _keep_sample(context, batch)
        if context.checkpoint(
            {
                "line": batch.line,
                "counts": counts.as_dict(),
                "sample": context.progress.get("sample", []),
            }
        ):
            return cancel(context)
    context.progress = {**context.progress, "counts": counts.as_dict(), "finished": True}
    return "done"


def _keep_sample(context: JobContext, batch: Batch) -> None:
    sample = list(context.progress.get("sample", []))
    for contact in batch.contacts[: max(0, 20 - len(sample))]:
        sample.append(
            {
                k: (str(v) if k in ("id", "workspace_id", "owner_id") and v is not None else v)
                for k, v in contact.items()
                if k in PROFILE or k == "custom"
            }
        )
    context.progress["sample"] = sample
