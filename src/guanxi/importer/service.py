"""Running an import: batches of rows matched to contacts by identity, written in bulk, with a
checkpoint per batch (a crashed worker's successor resumes there) and a compensating cancel that
leaves the workspace as it was.

Per batch: parse rows (pure), look up every identity they name in one query per kind, decide for
each row — new contact, update of the one it matches, skip, merge, or a reported problem — then
write new contacts and identities with COPY (PostgreSQL) or multi-row INSERT (SQLite), update
matched contacts by primary key, and commit together with the checkpoint.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from guanxi.contact import fields as custom_fields
from guanxi.db import analyze, bulk_insert, in_list, transaction
from guanxi.errors import GuanxiError
from guanxi.identity import service as resolution
from guanxi.importer import reader
from guanxi.importer.plan import PROFILE, Accounts, Batch, Counts, Options, plan
from guanxi.importer.rows import Parsed, Problem, parse
from guanxi.kit.clock import utcnow
from guanxi.models import Account, Contact, ContactAccount, Identity, ImportChange, ImportError_
from guanxi.worker.jobs import JobContext

BATCH = 5000


def write(
    session: Session,
    workspace_id: int,
    job_id: int,
    batch: Batch,
    accounts: Accounts,
    counts: Counts,
    now: datetime,
) -> None:
    """Write a planned batch, in the session's transaction."""
    if accounts.new:
        bulk_insert(session, Account, accounts.new)
        counts.accounts_created += len(accounts.new)
        accounts.new = []
    bulk_insert(session, Contact, batch.contacts)
    bulk_insert(session, Identity, batch.identities)
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
                result = resolution.resolve(
                    session,
                    workspace_id,
                    row.keys,
                    {**row.values, "custom": row.custom},
                    overwrite=False,
                    source=f"import:{job_id}",
                    actor_id=None,
                    now=now,
                )
        except GuanxiError as exc:
            batch.problems.append(Problem(row.line, None, None, exc.code, str(exc)[:500]))
            continue
        counts.merged += len(result.merges)
        counts.updated += 1
    if batch.problems:
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
                    "message": p.message[:500],
                }
                for p in batch.problems
            ],
        )
    counts.problems += sum(1 for p in batch.problems if p.reason != "duplicate")


def run(context: JobContext, path: Path) -> str:
    """The import job: resumes after its checkpoint; stops (and rolls back) when cancelled."""
    options = Options.of(context.payload)
    mapping: dict[str, str] = context.payload["mapping"]
    file = reader.FileShape(**context.payload["shape"])
    done_line = int(context.progress.get("line", 0))
    counts = Counts(**context.progress.get("counts", {}))
    accounts = Accounts(context.workspace_id, context.job_id, options.accounts == "create")
    with transaction(context.factory) as session:
        custom = custom_fields.definitions(session, context.workspace_id, "contact")
    parsed: list[Parsed] = []
    problems: list[Problem] = []
    last = done_line
    batches = [0]

    def flush() -> bool:
        nonlocal parsed, problems
        now = utcnow()
        with transaction(context.factory) as session:
            batch = plan(
                session,
                context.workspace_id,
                context.job_id,
                parsed,
                custom,
                options,
                accounts,
                counts,
                now,
            )
            batch.problems = problems + batch.problems
            if options.dry_run:
                counts.problems += sum(1 for p in batch.problems if p.reason != "duplicate")
                _keep_sample(context, batch)
                session.rollback()
                cancel = context.checkpoint(
                    {
                        "line": last,
                        "counts": counts.as_dict(),
                        "sample": context.progress.get("sample", []),
                    }
                )
            else:
                write(session, context.workspace_id, context.job_id, batch, accounts, counts, now)
                cancel = context.checkpoint({"line": last, "counts": counts.as_dict()}, session)
        parsed, problems = [], []
        batches[0] += 1
        if batches[0] & (batches[0] - 1) == 0 and not options.dry_run:
            # the tables grow fast: fresh statistics at batches 1, 2, 4, 8 … keep lookups on
            # their indexes, during the import and after it
            with transaction(context.factory) as session:
                analyze(session, "identity", "contact", "account")
        return cancel

    for line, row in reader.rows(path, file):
        if line <= done_line:
            continue
        counts.rows += 1
        result = parse(line, row, mapping, custom)
        if isinstance(result, Problem):
            problems.append(result)
        else:
            parsed.append(result)
        last = line
        if len(parsed) + len(problems) >= BATCH and flush():
            return cancel(context)
    if (parsed or problems) and flush():
        return cancel(context)
    if not options.dry_run:
        with transaction(context.factory) as session:
            analyze(session, "identity", "contact", "account")
    context.progress = {
        **context.progress,
        "line": last,
        "counts": counts.as_dict(),
        "finished": True,
    }
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


def cancel(context: JobContext) -> str:
    """Undo everything the import wrote: contacts and accounts it created (with their
    identities and links), identities and links it added, values it replaced."""
    ws, job = context.workspace_id, context.job_id
    with transaction(context.factory) as session:
        created = select(Contact.id).where(Contact.workspace_id == ws, Contact.import_id == job)
        session.execute(
            delete(Identity).where(
                Identity.workspace_id == ws,
                (Identity.contact_id.in_(created)) | (Identity.source == f"import:{job}"),
            )
        )
        session.execute(
            delete(ContactAccount).where(
                ContactAccount.workspace_id == ws, ContactAccount.contact_id.in_(created)
            )
        )
        for change in session.scalars(
            select(ImportChange).where(ImportChange.workspace_id == ws, ImportChange.job_id == job)
        ):
            before = dict(change.before)
            if before.get("owner_id") is not None:
                before["owner_id"] = int(before["owner_id"])
            session.execute(
                update(Contact)
                .where(Contact.workspace_id == ws, Contact.id == change.contact_id)
                .values(**before)
            )
        session.execute(delete(Contact).where(Contact.workspace_id == ws, Contact.import_id == job))
        imported_accounts = select(Account.id).where(
            Account.workspace_id == ws, Account.import_id == job
        )
        session.execute(
            delete(ContactAccount).where(
                ContactAccount.workspace_id == ws, ContactAccount.account_id.in_(imported_accounts)
            )
        )
        session.execute(delete(Account).where(Account.workspace_id == ws, Account.import_id == job))
    context.progress = {**context.progress, "cancelled": True}
    return "cancelled"
