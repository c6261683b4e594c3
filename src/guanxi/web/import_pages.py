"""Console import wizard: upload → confirm the column mapping and options → follow the job."""

from __future__ import annotations

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from guanxi.contact import fields as custom_fields
from guanxi.errors import GuanxiError
from guanxi.http.errors import render
from guanxi.importer import jobs
from guanxi.importer.rows import ACCOUNT, STANDARD
from guanxi.importer.schemas import ImportIn, UploadOut
from guanxi.kit.schema import Id
from guanxi.web.nav import MODULES
from guanxi.web.render import language_of, page
from guanxi.web.session import Console, ConsoleDep, PostedForm

router = APIRouter()
IDENTITY_TARGETS = ("identity.wechat_unionid", "identity.whatsapp", "identity.anonymous_id")


def _targets(console: Console) -> list[str]:
    custom = custom_fields.definitions(console.session, console.principal.workspace_id, "contact")
    account_custom = custom_fields.definitions(
        console.session, console.principal.workspace_id, "account"
    )
    return [
        "ignore",
        *STANDARD,
        "owner",
        *ACCOUNT,
        *IDENTITY_TARGETS,
        *(f"custom.{k}" for k in sorted(custom)),
        *(f"account.custom.{k}" for k in sorted(account_custom)),
    ]


def _list(
    request: Request, console: Console, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    imports = [jobs.out(j) for j in jobs.list_imports(console.session, console.principal, 20)]
    return page(
        request,
        "imports/list.html",
        status_code,
        console=console,
        modules=MODULES,
        active="contacts",
        imports=imports,
        error=error,
    )


@router.get("/imports", response_class=HTMLResponse)
def imports(request: Request, console: ConsoleDep) -> HTMLResponse:
    return _list(request, console)


def _mapping_page(request: Request, console: Console, described: UploadOut) -> HTMLResponse:
    return page(
        request,
        "imports/mapping.html",
        console=console,
        modules=MODULES,
        active="contacts",
        upload=described,
        targets=_targets(console),
        saved=jobs.mappings(console.session, console.principal),
    )


@router.post("/imports/upload", response_class=HTMLResponse)
def upload(request: Request, console: ConsoleDep, file: UploadFile) -> HTMLResponse:
    try:
        described = jobs.store_upload(
            console.session, console.principal, request.app.state.settings.data_dir, file.file
        )
    except GuanxiError as exc:
        return _list(request, console, render(exc, language_of(request)), exc.status)
    return _mapping_page(request, console, described)


@router.get("/imports/files/{file_id}", response_class=HTMLResponse)
def mapping(
    request: Request, console: ConsoleDep, file_id: Id, mapping_id: Id | None = None
) -> HTMLResponse:
    """The mapping step again, with a saved mapping applied."""
    saved = (
        jobs.get_mapping(console.session, console.principal, mapping_id).mapping
        if mapping_id
        else None
    )
    described = jobs.describe(
        console.session, console.principal, request.app.state.settings.data_dir, str(file_id), saved
    )
    return _mapping_page(request, console, described)


@router.post("/imports/start")
def start(request: Request, console: ConsoleDep, form: PostedForm) -> Response:
    """The mapping form: one ``map:<header>`` field per column, and the options."""
    mapping = {str(k)[4:]: str(v) for k, v in form.multi_items() if str(k).startswith("map:")}
    try:
        data = ImportIn(
            file_id=str(form.get("file_id", "")),
            mapping=mapping,
            dedup=str(form.get("dedup", "update")),
            overwrite=form.get("overwrite") == "1",
            accounts=str(form.get("accounts", "create")),
            dry_run=form.get("dry_run") == "1",
        )
        job = jobs.start(
            console.session,
            console.principal,
            request.app.state.settings.data_dir,
            data,
            language_of(request),
        )
        name = str(form.get("save_as", "")).strip()
        if name:
            jobs.save_mapping(console.session, console.principal, name[:120], mapping)
    except GuanxiError as exc:
        return _list(request, console, render(exc, language_of(request)), exc.status)
    except ValueError:
        return _list(request, console, None, 422)
    return RedirectResponse(f"/app/imports/{job.id}", status_code=303)


@router.get("/imports/{job_id}", response_class=HTMLResponse)
def status(request: Request, console: ConsoleDep, job_id: Id) -> HTMLResponse:
    job = jobs.get(console.session, console.principal, job_id)
    problems = jobs.problems(console.session, console.principal, job.id, 0, 100)
    return page(
        request,
        "imports/status.html",
        console=console,
        modules=MODULES,
        active="contacts",
        job=jobs.out(job),
        problems=problems,
    )


@router.post("/imports/{job_id}/cancel")
def cancel(console: ConsoleDep, job_id: Id) -> RedirectResponse:
    jobs.cancel(console.session, console.principal, job_id)
    return RedirectResponse(f"/app/imports/{job_id}", status_code=303)
