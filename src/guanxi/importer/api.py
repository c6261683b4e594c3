"""Routes for imports: upload a file, start (or dry-run) an import, follow it, cancel it, read
its problem report; saved column mappings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, UploadFile
from fastapi.responses import StreamingResponse

from guanxi.http.deps import DB, Actor, language_of
from guanxi.http.errors import errors
from guanxi.importer import jobs
from guanxi.importer.schemas import (
    ImportIn,
    ImportOut,
    MappingIn,
    MappingOut,
    ProblemOut,
    UploadOut,
)
from guanxi.kit.page import Page
from guanxi.kit.schema import Id

router = APIRouter(tags=["imports"])


@router.post("/imports/files", response_model=UploadOut, status_code=201, responses=errors(400))
def upload(file: UploadFile, request: Request, actor: Actor, session: DB) -> UploadOut:
    """Upload a CSV (UTF-8 or GBK/GB18030, any delimiter) or XLSX file. The answer describes it
    and suggests a column mapping to confirm before starting."""
    return jobs.store_upload(session, actor, request.app.state.settings.data_dir, file.file)


@router.post("/imports", response_model=ImportOut, status_code=201, responses=errors(400, 404))
def start(data: ImportIn, request: Request, actor: Actor, session: DB) -> ImportOut:
    """Start an import (a job for the worker). ``dry_run`` checks every row and counts what
    would happen without writing."""
    return jobs.out(
        jobs.start(session, actor, request.app.state.settings.data_dir, data, language_of(request))
    )


@router.get("/imports", response_model=Page[ImportOut])
def list_imports(
    actor: Actor, session: DB, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> Page[ImportOut]:
    return Page(
        items=[jobs.out(j) for j in jobs.list_imports(session, actor, limit)], next_cursor=None
    )


@router.get("/imports/{job_id}", response_model=ImportOut)
def get_import(job_id: Id, actor: Actor, session: DB) -> ImportOut:
    """Status and progress: the last line done and the counts so far."""
    return jobs.out(jobs.get(session, actor, job_id))


@router.post("/imports/{job_id}/cancel", response_model=ImportOut, responses=errors(409))
def cancel(job_id: Id, actor: Actor, session: DB) -> ImportOut:
    """Stop the import and remove everything it wrote (contacts and accounts it created,
    identities and links it added, values it replaced)."""
    return jobs.out(jobs.cancel(session, actor, job_id))


@router.get("/imports/{job_id}/problems", response_model=Page[ProblemOut])
def problems(
    job_id: Id,
    actor: Actor,
    session: DB,
    after_line: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Page[ProblemOut]:
    """Rows not imported, by line: reason code and message. Page with ``after_line``."""
    rows = jobs.problems(session, actor, job_id, after_line, limit)
    cursor = str(rows[-1].line) if len(rows) == limit else None
    return Page(items=[ProblemOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get("/imports/{job_id}/problems.csv", response_class=StreamingResponse)
def problems_csv(job_id: Id, actor: Actor, session: DB) -> StreamingResponse:
    """The problem report as a CSV file."""
    jobs.get(session, actor, job_id)
    body = "".join(jobs.problems_csv(session, actor, job_id))
    headers = {"Content-Disposition": f'attachment; filename="import-{job_id}-problems.csv"'}
    return StreamingResponse(
        iter([body.encode()]), media_type="text/csv; charset=utf-8", headers=headers
    )


@router.get("/import-mappings", response_model=Page[MappingOut])
def list_mappings(actor: Actor, session: DB) -> Page[MappingOut]:
    return Page(
        items=[MappingOut.model_validate(m) for m in jobs.mappings(session, actor)],
        next_cursor=None,
    )


@router.post("/import-mappings", response_model=MappingOut, status_code=201)
def save_mapping(data: MappingIn, actor: Actor, session: DB) -> MappingOut:
    return MappingOut.model_validate(jobs.save_mapping(session, actor, data.name, data.mapping))
