"""Console screen for suppression lists: search and filter the suppressed addresses, add one,
upload a CSV file of them, take one off."""

from __future__ import annotations

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from guanxi.consent import service as consent
from guanxi.consent import suppression
from guanxi.errors import GuanxiError
from guanxi.kit.clock import utcnow
from guanxi.kit.schema import Id
from guanxi.web.nav import MODULES
from guanxi.web.render import failure, page
from guanxi.web.session import Console, ConsoleDep, PostedForm

router = APIRouter()


def _text(data: FormData, name: str) -> str:
    return str(data.get(name) or "").strip()


def _pick(data: FormData, name: str, allowed: dict[str, str], fallback: str) -> str:
    value = _text(data, name)
    return value if value in allowed else fallback


def _list(
    request: Request,
    console: Console,
    *,
    channel: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
    result: suppression.Added | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    channel = channel if channel in consent.CHANNEL_LABELS else None
    rows, next_cursor = suppression.list_suppressions(
        console.session,
        console.principal,
        channel=channel,
        q=q,
        sort=None,
        limit=50,
        cursor=cursor,
    )
    return page(
        request,
        "suppressions/list.html",
        status_code,
        console=console,
        modules=MODULES,
        active="channels",
        rows=[r.Suppression for r in rows],
        next_cursor=next_cursor,
        channel=channel or "",
        q=q or "",
        channels=consent.CHANNEL_LABELS,
        reasons=suppression.REASONS,
        result=result,
        can_write=console.principal.can("messages:write"),
        error=error,
    )


@router.get("/suppressions", response_class=HTMLResponse)
def suppressions(
    request: Request,
    console: ConsoleDep,
    channel: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    return _list(request, console, channel=channel, q=q, cursor=cursor)


def _refused(request: Request, console: Console, exc: GuanxiError) -> HTMLResponse:
    """The list again with the refusal, and nothing saved."""
    console.session.rollback()
    return _list(request, console, **failure(request, exc))


@router.post("/suppressions", response_class=HTMLResponse)
def add(request: Request, console: ConsoleDep, data: PostedForm) -> HTMLResponse:
    channel = _pick(data, "channel", consent.CHANNEL_LABELS, "email")
    try:
        result = suppression.add(
            console.session,
            console.principal,
            channel,
            [_text(data, "address")],
            reason=_pick(data, "reason", suppression.REASONS, "manual"),
            note=_text(data, "note")[:300] or None,
            source="console",
            now=utcnow(),
        )
    except GuanxiError as exc:
        return _refused(request, console, exc)
    return _list(request, console, channel=channel, result=result)


@router.post("/suppressions/import", response_class=HTMLResponse)
def upload(
    request: Request, console: ConsoleDep, data: PostedForm, file: UploadFile
) -> HTMLResponse:
    channel = _pick(data, "channel", consent.CHANNEL_LABELS, "email")
    try:
        result = suppression.import_csv(
            console.session,
            console.principal,
            channel,
            file.file.read(suppression.MAX_FILE + 1),
            reason=_pick(data, "reason", suppression.REASONS, "manual"),
            note=_text(data, "note")[:300] or None,
            source=f"import:{file.filename or 'csv'}",
            now=utcnow(),
        )
    except GuanxiError as exc:
        return _refused(request, console, exc)
    return _list(request, console, channel=channel, result=result)


@router.post("/suppressions/{suppression_id}/delete", response_class=HTMLResponse)
def remove(request: Request, console: ConsoleDep, suppression_id: Id) -> Response:
    try:
        suppression.remove(console.session, console.principal, suppression_id)
    except GuanxiError as exc:
        return _refused(request, console, exc)
    return RedirectResponse("/app/suppressions", status_code=303)
