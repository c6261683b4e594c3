"""Console screens for events and tracking: the live event stream, forms (builder, preview,
submissions) and the web tracking snippet with its allowed origins."""

from __future__ import annotations

from typing import Any, get_args

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from guanxi.contact import fields as custom_fields
from guanxi.content import service as content
from guanxi.content.schemas import ContentIn, LinkIn
from guanxi.errors import GuanxiError
from guanxi.event import catalogue
from guanxi.event import service as events
from guanxi.form import service as forms
from guanxi.form.schemas import CHANNELS, STANDARD_TARGETS, FieldType, FormIn
from guanxi.kit.clock import utcnow
from guanxi.kit.schema import Id
from guanxi.models import Form
from guanxi.tracking import service as tracking
from guanxi.tracking.api import snippet_html
from guanxi.tracking.public import own_origin
from guanxi.tracking.schemas import SitePatch
from guanxi.web.nav import MODULES
from guanxi.web.render import failure, page
from guanxi.web.session import Console, ConsoleDep, PostedForm

router = APIRouter()
FIELD_TYPES = get_args(FieldType)
BLANK_ROWS = 3


def _recent(console: Console, type: str, channel: str) -> list[Any]:
    rows, _ = events.recent(
        console.session,
        console.principal,
        types=[type] if type else [],
        channel=channel or None,
        since=None,
        limit=50,
        cursor=None,
    )
    return [r.Event for r in rows]


@router.get("/events", response_class=HTMLResponse)
def event_stream(
    request: Request, console: ConsoleDep, type: str = "", channel: str = ""
) -> HTMLResponse:
    return page(
        request,
        "events/stream.html",
        console=console,
        modules=MODULES,
        active="events",
        events=_recent(console, type, channel),
        types=sorted(catalogue.BUILTIN),
        type=type,
        channel=channel,
    )


@router.get("/events/rows", response_class=HTMLResponse)
def event_rows(
    request: Request, console: ConsoleDep, type: str = "", channel: str = ""
) -> HTMLResponse:
    """The table body alone: the stream page polls it (htmx) to stay live."""
    return page(
        request, "events/_rows.html", console=console, events=_recent(console, type, channel)
    )


# -- forms -----------------------------------------------------------------------------------


def _targets(console: Console) -> list[str]:
    own = custom_fields.definitions(console.session, console.principal.workspace_id, "contact")
    return [
        *sorted(STANDARD_TARGETS),
        "company",
        "company_domain",
        *(f"custom.{k}" for k in sorted(own)),
        *(f"consent.{c}" for c in sorted(CHANNELS)),
    ]


def _form_page(
    request: Request,
    console: Console,
    form: Form | None,
    *,
    draft: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    submissions: list[Any] = []
    if form is not None:
        rows, _ = forms.submissions(
            console.session, console.principal, form.id, limit=50, cursor=None
        )
        submissions = [r.FormSubmission for r in rows]
    current = draft or (
        {
            "name": form.name,
            "language": form.language,
            "fields": form.fields,
            "settings": form.settings,
        }
        if form is not None
        else {
            "name": "",
            "language": console.workspace.default_language,
            "fields": [],
            "settings": {},
        }
    )
    return page(
        request,
        "forms/edit.html",
        status_code,
        console=console,
        modules=MODULES,
        active="events",
        form=form,
        current=current,
        rows=[*current["fields"], *([{}] * BLANK_ROWS)],
        targets=_targets(console),
        field_types=FIELD_TYPES,
        submissions=submissions,
        base=own_origin(request),
        can_write=console.principal.can("contacts:write"),
        error=error,
    )


def _posted(data: FormData) -> dict[str, Any]:
    """The builder's rows as a form definition (rows without a key are left out)."""
    fields = []
    count = str(data.get("rows") or "0")
    for i in range(min(int(count) if count.isdigit() else 0, 60)):
        key = str(data.get(f"f{i}_key") or "").strip()
        if not key:
            continue
        if key == "extra":
            key = f"extra.{str(data.get(f'f{i}_extra') or '').strip()}"
        field: dict[str, Any] = {
            "key": key,
            "label": str(data.get(f"f{i}_label") or "").strip() or key,
            "type": str(data.get(f"f{i}_type") or "text"),
            "required": bool(data.get(f"f{i}_required")),
        }
        options = [o.strip() for o in str(data.get(f"f{i}_options") or "").split(",") if o.strip()]
        if options:
            field["options"] = options
        if data.get(f"f{i}_value"):
            field["value"] = str(data.get(f"f{i}_value"))
        fields.append(field)
    settings: dict[str, Any] = {
        "thank_you": str(data.get("thank_you") or "").strip() or None,
        "redirect_url": str(data.get("redirect_url") or "").strip() or None,
        "progressive": bool(data.get("progressive")),
        "source": str(data.get("source") or "").strip() or None,
        "per_ip_per_hour": str(data.get("per_ip_per_hour") or "10"),
    }
    return {
        "name": str(data.get("name") or ""),
        "language": str(data.get("language") or "zh_CN"),
        "fields": fields,
        "settings": settings,
    }


@router.get("/forms", response_class=HTMLResponse)
def form_list(request: Request, console: ConsoleDep) -> HTMLResponse:
    return page(
        request,
        "forms/list.html",
        console=console,
        modules=MODULES,
        active="events",
        forms=forms.list_forms(console.session, console.principal),
        can_write=console.principal.can("contacts:write"),
    )


@router.get("/forms/new", response_class=HTMLResponse)
def new_form(request: Request, console: ConsoleDep) -> HTMLResponse:
    console.principal.require("contacts:write")
    return _form_page(request, console, None)


@router.post("/forms/new", response_class=HTMLResponse)
def create_form(request: Request, console: ConsoleDep, data: PostedForm) -> Response:
    draft = _posted(data)
    try:
        form = forms.create(
            console.session, console.principal, FormIn.model_validate(draft), utcnow()
        )
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return _form_page(request, console, None, draft=draft, **failure(request, exc))
    return RedirectResponse(f"/app/forms/{form.id}", status_code=303)


@router.get("/forms/{form_id}", response_class=HTMLResponse)
def edit_form(request: Request, console: ConsoleDep, form_id: Id) -> HTMLResponse:
    return _form_page(request, console, forms.get(console.session, console.principal, form_id))


@router.post("/forms/{form_id}", response_class=HTMLResponse)
def save_form(request: Request, console: ConsoleDep, form_id: Id, data: PostedForm) -> Response:
    form = forms.get(console.session, console.principal, form_id)
    draft = _posted(data)
    try:
        forms.update(
            console.session, console.principal, form.id, FormIn.model_validate(draft), utcnow()
        )
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        form = forms.get(console.session, console.principal, form_id)
        return _form_page(request, console, form, draft=draft, **failure(request, exc))
    return RedirectResponse(f"/app/forms/{form.id}", status_code=303)


@router.post("/forms/{form_id}/status", response_class=HTMLResponse)
def form_status(console: ConsoleDep, form_id: Id, data: PostedForm) -> Response:
    status = "active" if data.get("status") == "active" else "archived"
    forms.set_status(console.session, console.principal, form_id, status, utcnow())
    return RedirectResponse(f"/app/forms/{form_id}", status_code=303)


# -- content and tracked links ---------------------------------------------------------------


def _content_page(
    request: Request,
    console: Console,
    *,
    made: Any = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    items = content.list_content(console.session, console.principal)
    links = {c.id: content.links(console.session, console.principal, c.id) for c in items}
    return page(
        request,
        "content/list.html",
        status_code,
        console=console,
        modules=MODULES,
        active="events",
        items=items,
        links=links,
        made=made,
        base=own_origin(request),
        can_write=console.principal.can("contacts:write"),
        error=error,
    )


@router.get("/content", response_class=HTMLResponse)
def content_list(request: Request, console: ConsoleDep) -> HTMLResponse:
    return _content_page(request, console)


@router.post("/content", response_class=HTMLResponse)
def create_content(request: Request, console: ConsoleDep, data: PostedForm) -> Response:
    try:
        fields = {
            k: str(data.get(k) or "").strip() or None for k in ("title", "summary", "body", "url")
        }
        content.create(
            console.session, console.principal, ContentIn.model_validate(fields), utcnow()
        )
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return _content_page(request, console, **failure(request, exc))
    return RedirectResponse("/app/content", status_code=303)


@router.post("/content/{content_id}/links", response_class=HTMLResponse)
def make_link(request: Request, console: ConsoleDep, content_id: Id, data: PostedForm) -> Response:
    """The signed-in member's own link, for one contact, a channel code or anyone."""
    try:
        wanted = LinkIn.model_validate(
            {
                "recipient_id": str(data.get("recipient_id") or "").strip() or None,
                "channel_code": str(data.get("channel_code") or "").strip() or None,
            }
        )
        made = content.link(console.session, console.principal, content_id, wanted, utcnow())
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return _content_page(request, console, **failure(request, exc))
    return _content_page(request, console, made=made)


# -- web tracking settings -------------------------------------------------------------------


def _tracking_page(
    request: Request, console: Console, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    row = tracking.settings(console.session, console.principal, utcnow())
    return page(
        request,
        "settings/tracking.html",
        status_code,
        console=console,
        modules=MODULES,
        active="settings",
        tab="tracking",
        site=row,
        snippet=snippet_html(own_origin(request), row.site_key),
        can_write=console.principal.can("workspace:write"),
        error=error,
    )


@router.get("/settings/tracking", response_class=HTMLResponse)
def tracking_settings(request: Request, console: ConsoleDep) -> HTMLResponse:
    return _tracking_page(request, console)


@router.post("/settings/tracking", response_class=HTMLResponse)
def save_tracking(request: Request, console: ConsoleDep, data: PostedForm) -> Response:
    text = str(data.get("allowed_origins") or "")
    origins = [line.strip() for line in text.splitlines() if line.strip()]
    try:
        tracking.update_settings(
            console.session, console.principal, SitePatch(allowed_origins=origins), utcnow()
        )
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return _tracking_page(request, console, **failure(request, exc))
    return RedirectResponse("/app/settings/tracking", status_code=303)
