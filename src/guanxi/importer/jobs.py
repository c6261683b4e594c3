"""Import jobs as the API and the CLI see them: upload, start, read, cancel, problems."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import IO

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal, WholeWorkspaceNeeded
from guanxi.contact import fields as custom_fields
from guanxi.errors import BadRequest, NotFound
from guanxi.i18n import N_, Language
from guanxi.importer import reader, rows
from guanxi.importer.schemas import ImportIn, ImportOut, UploadOut
from guanxi.kit.ids import new_id
from guanxi.models import ImportError_, ImportMapping, Job
from guanxi.segment import manage as segments
from guanxi.worker import jobs

MAX_UPLOAD = 512 * 1024 * 1024


class InvalidMapping(BadRequest):
    code = "invalid_mapping"
    message = N_("Column {column} maps to {target}, which is not a field you can import into.")


class FileTooLarge(BadRequest):
    code = "file_too_large"
    message = N_("The file is larger than 512 MB; split it into several imports.")


class UnreadableFile(BadRequest):
    code = "unreadable_file"
    message = N_("The file cannot be read as CSV or XLSX.")


def upload_dir(data_dir: Path, workspace_id: int) -> Path:
    path = data_dir / "uploads" / str(workspace_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_upload(
    session: Session, actor: Principal, data_dir: Path, stream: IO[bytes]
) -> UploadOut:
    """Keep an uploaded file and describe it: format, encoding, headers, a sample, a mapping."""
    _importer(actor)
    file_id = str(new_id())
    path = upload_dir(data_dir, actor.workspace_id) / file_id
    size = 0
    with path.open("wb") as out:
        while chunk := stream.read(1 << 20):
            size += len(chunk)
            if size > MAX_UPLOAD:
                out.close()
                path.unlink(missing_ok=True)
                raise FileTooLarge()
            out.write(chunk)
    try:
        return describe(session, actor, data_dir, file_id)
    except UnreadableFile:
        path.unlink(missing_ok=True)
        raise


def describe(
    session: Session,
    actor: Principal,
    data_dir: Path,
    file_id: str,
    mapping: dict[str, str] | None = None,
) -> UploadOut:
    """An uploaded file's shape and first rows, with ``mapping`` (a saved one) or a suggestion."""
    actor.require("contacts:write")
    if not file_id.isdigit():
        raise NotFound(resource=N_("File"))
    path = upload_dir(data_dir, actor.workspace_id) / file_id
    if not path.exists():
        raise NotFound(resource=N_("File"))
    try:
        shape = reader.shape(path)
        sample = [row for _, row in islice(reader.rows(path, shape), 5)]
    except Exception as exc:  # any parse failure is the file's
        raise UnreadableFile() from exc
    if not [h for h in shape.headers if h]:
        raise UnreadableFile()
    custom = custom_fields.definitions(session, actor.workspace_id, "contact")
    account_custom = custom_fields.definitions(session, actor.workspace_id, "account")
    suggested = rows.suggest(shape.headers, custom, account_custom)
    if mapping:
        suggested |= {
            h: t
            for h, t in mapping.items()
            if h in suggested and rows.valid_target(t, custom, account_custom)
        }
    return UploadOut(
        file_id=file_id,
        format=shape.format,
        encoding=shape.encoding,
        delimiter=shape.delimiter,
        headers=shape.headers,
        sample=sample,
        suggested_mapping=suggested,
    )


def get_mapping(session: Session, actor: Principal, mapping_id: int) -> ImportMapping:
    actor.require("contacts:read")
    row = session.get(ImportMapping, (actor.workspace_id, mapping_id))
    if row is None:
        raise NotFound(resource=N_("Mapping"))
    return row


def _importer(actor: Principal) -> None:
    """An import matches and updates contacts across the workspace, like identify: it needs
    the right to write contacts and a data scope of all."""
    actor.require("contacts:write")
    if actor.data_scope.value != "all":
        raise WholeWorkspaceNeeded()


def start(
    session: Session, actor: Principal, data_dir: Path, data: ImportIn, language: Language
) -> Job:
    """Queue an import; its problems will be reported in ``language``."""
    _importer(actor)
    path = upload_dir(data_dir, actor.workspace_id) / data.file_id
    if not path.exists():
        raise NotFound(resource=N_("File"))
    shape = reader.shape(path)
    custom = custom_fields.definitions(session, actor.workspace_id, "contact")
    account_custom = custom_fields.definitions(session, actor.workspace_id, "account")
    for column, target in data.mapping.items():
        if column not in shape.headers or not rows.valid_target(target, custom, account_custom):
            raise InvalidMapping(column=column, target=target)
    if data.list_id is not None:  # the static list the file's contacts go to
        chosen = segments.get(session, actor, data.list_id, write=True)
        if chosen.kind != "static":
            raise segments.NotAList()
    payload = {
        "path": str(path),
        "shape": {
            "format": shape.format,
            "encoding": shape.encoding,
            "delimiter": shape.delimiter,
            "headers": shape.headers,
        },
        **data.model_dump(exclude={"file_id"}),
        "language": language,
        "by": str(actor.user_id),
    }
    return jobs.enqueue(session, actor.workspace_id, "import", payload, actor.user_id)


def get(session: Session, actor: Principal, job_id: int) -> Job:
    actor.require("contacts:read")
    job = session.get(Job, (actor.workspace_id, job_id))
    mine = job is not None and (job.created_by == actor.user_id or actor.data_scope.value == "all")
    if job is None or job.kind != "import" or not mine:
        raise NotFound(resource=N_("Import"))
    return job


def out(job: Job) -> ImportOut:
    options = {
        k: job.payload.get(k)
        for k in ("dedup", "overwrite", "create", "accounts", "dry_run", "mapping")
    }
    return ImportOut(
        id=job.id,
        status=job.status,
        cancel_requested=job.cancel_requested,
        options=options,
        counts=dict(job.progress.get("counts", {})),
        line=int(job.progress.get("line", 0)),
        sample=list(job.progress.get("sample", [])),
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def list_imports(session: Session, actor: Principal, limit: int) -> Sequence[Job]:
    actor.require("contacts:read")
    stmt = (
        select(Job)
        .where(Job.workspace_id == actor.workspace_id, Job.kind == "import")
        .where(Job.created_by == actor.user_id if actor.data_scope.value != "all" else true())
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(limit)
    )
    return session.scalars(stmt).all()


def cancel(session: Session, actor: Principal, job_id: int) -> Job:
    """Ask the import to stop; the worker then removes everything it wrote."""
    actor.require("contacts:write")
    get(session, actor, job_id)
    return jobs.request_cancel(session, actor.workspace_id, job_id)


def problems(
    session: Session, actor: Principal, job_id: int, after_line: int, limit: int
) -> Sequence[ImportError_]:
    job = get(session, actor, job_id)
    stmt = (
        select(ImportError_)
        .where(
            ImportError_.workspace_id == actor.workspace_id,
            ImportError_.job_id == job.id,
            ImportError_.line > after_line,
        )
        .order_by(ImportError_.line)
        .limit(limit)
    )
    return session.scalars(stmt).all()


def problems_csv(session: Session, actor: Principal, job_id: int) -> Iterator[str]:
    """The problem report as CSV (UTF-8 with BOM, so that Excel shows Chinese): streamed by pages."""
    yield "\ufeffline,column,value,reason,message\r\n"
    after = 0
    while True:
        page = problems(session, actor, job_id, after, 5000)
        if not page:
            return
        buf = io.StringIO()
        writer = csv.writer(buf)
        for p in page:
            writer.writerow([p.line, p.column or "", p.value or "", p.reason, p.message])
        yield buf.getvalue()
        after = page[-1].line


def save_mapping(
    session: Session, actor: Principal, name: str, mapping: dict[str, str]
) -> ImportMapping:
    actor.require("contacts:write")
    row = ImportMapping(workspace_id=actor.workspace_id, name=name, mapping=mapping)
    session.add(row)
    session.flush()
    return row


def mappings(session: Session, actor: Principal) -> Sequence[ImportMapping]:
    actor.require("contacts:read")
    stmt = (
        select(ImportMapping)
        .where(ImportMapping.workspace_id == actor.workspace_id)
        .order_by(ImportMapping.name)
    )
    return session.scalars(stmt).all()
