"""Console screens for message templates: the list by channel, and the editor with a preview of
the message as a chosen contact gets it (subject, HTML in a sandboxed frame, text).

The preview shows the draft on the screen, not the saved template: the draft is saved in the
request's transaction, composed by the very code the dispatcher uses, and rolled back, so what
the marketer sees is what the contact would get and nothing is written.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from guanxi.contact import service as contacts
from guanxi.errors import GuanxiError
from guanxi.kit.clock import utcnow
from guanxi.kit.schema import Id
from guanxi.message import compose, render, templates
from guanxi.message.schemas import TemplateIn
from guanxi.models import MessageTemplate
from guanxi.web.message_words import CHANNELS, words
from guanxi.web.nav import MODULES
from guanxi.web.render import failure, language_of, page
from guanxi.web.session import Console, ConsoleDep, PostedForm

router = APIRouter()

PARTS = ("subject", "html", "text")
VARIABLES = (
    "{{ contact.name }}",
    "{{ contact.email }}",
    "{{ contact.custom.plan }}",
    "{{ account.name }}",
    "{{ sender.name }}",
    "{{ unsubscribe_url }}",
    "{{ preferences_url }}",
    '{{ contact.name | default("朋友") }}',
)


def _text(data: FormData, name: str) -> str:
    return str(data.get(name) or "").strip()


def _draft(data: FormData) -> dict[str, Any]:
    """The editor's fields as typed (the bodies untrimmed: whitespace is part of a template);
    an empty part is no part."""
    draft: dict[str, Any] = {"name": _text(data, "name"), "channel": _text(data, "channel")}
    for part in PARTS:
        value = str(data.get(part) or "")
        draft[part] = value if value.strip() else None
    return draft


def _shown(row: MessageTemplate | None, channel: str) -> dict[str, Any]:
    if row is None:
        return {"name": "", "channel": channel, "subject": None, "html": None, "text": None}
    return {k: getattr(row, k) for k in ("name", "channel", *PARTS)}


def _problem(request: Request, exc: BaseException) -> dict[str, Any] | None:
    """A template that does not compile or fails while filled in: the error in the reader's
    language, with the part and line it names (found on the cause: the services wrap it)."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, render.TemplateError):
        cause = cause.__cause__
    if cause is None:
        return None
    return {
        "error": cause.message.render(language_of(request)),
        "error_part": cause.part,
        "error_line": cause.line,
        "status_code": 422,
    }


def _refusal(request: Request, exc: Exception) -> dict[str, Any]:
    return _problem(request, exc) or failure(request, exc)


# -- the list --------------------------------------------------------------------------------


@router.get("/templates", response_class=HTMLResponse)
def template_list(request: Request, console: ConsoleDep, channel: str = "") -> HTMLResponse:
    channel = channel if channel in CHANNELS else ""
    rows = templates.listed(console.session, console.principal, channel or None)
    return page(
        request,
        "message_templates/list.html",
        console=console,
        modules=MODULES,
        active="channels",
        rows=rows,
        channel=channel,
        can_write=console.principal.can("templates:write"),
        **words(),
    )


# -- the editor ------------------------------------------------------------------------------


def _editor(
    request: Request,
    console: Console,
    row: MessageTemplate | None,
    *,
    draft: dict[str, Any] | None = None,
    channel: str = "email",
    saved: bool = False,
    error: str | None = None,
    error_part: str | None = None,
    error_line: int | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "message_templates/edit.html",
        status_code,
        console=console,
        modules=MODULES,
        active="channels",
        row=row,
        current=draft or _shown(row, channel),
        variables=VARIABLES,
        can_write=console.principal.can("templates:write"),
        saved=saved,
        error=error,
        error_part=error_part,
        error_line=error_line,
        **words(),
    )


@router.get("/templates/new", response_class=HTMLResponse)
def new_template(request: Request, console: ConsoleDep, channel: str = "email") -> HTMLResponse:
    console.principal.require("templates:write")
    return _editor(request, console, None, channel=channel if channel in CHANNELS else "email")


@router.post("/templates", response_class=HTMLResponse)
def create_template(request: Request, console: ConsoleDep, data: PostedForm) -> Response:
    draft = _draft(data)
    try:
        values = TemplateIn.model_validate(draft).model_dump(exclude={"data"})
        row = templates.save(console.session, console.principal, values, utcnow())
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return _editor(request, console, None, draft=draft, **_refusal(request, exc))
    return RedirectResponse(f"/app/templates/{row.id}?saved=1", status_code=303)


@router.get("/templates/contacts", response_class=HTMLResponse)
def contact_search(request: Request, console: ConsoleDep, q: str = "") -> HTMLResponse:
    """Contacts to preview with, found by name, email or phone (the newest ten)."""
    found = contacts.search(console.session, console.principal, q)
    return page(request, "message_templates/_contacts.html", console=console, found=found)


@router.post("/templates/preview", response_class=HTMLResponse)
def preview(request: Request, console: ConsoleDep, data: PostedForm) -> HTMLResponse:
    """The draft (the saved template for a member who cannot edit it) as the contact gets it,
    always rolled back. A template that does not work is shown as the preview's answer (200,
    so that htmx puts it in place)."""
    s, actor = console.session, console.principal
    contact_id, template_id = _text(data, "contact_id"), _text(data, "template_id")
    context: dict[str, Any] = {"result": None, "contact": None, "error": None}
    if contact_id.isdigit():
        context["contact"] = contacts.get(s, actor, int(contact_id))
        row = templates.get(s, actor, int(template_id)) if template_id.isdigit() else None
        try:
            if actor.can("templates:write"):
                draft = _draft(data)
                draft["name"] = draft["name"] or "preview"  # a name is not needed to look
                row = templates.save(s, actor, draft, utcnow(), row)
            if row is not None:
                context["result"] = templates.preview(
                    s, actor, row.id, int(contact_id), request.app.state.settings
                )
        except (GuanxiError, compose.CannotSend) as exc:
            context["error"] = _refusal(request, exc)["error"]
        finally:
            s.rollback()
    return page(request, "message_templates/_preview.html", console=console, **context)


@router.get("/templates/{template_id}", response_class=HTMLResponse)
def template_view(
    request: Request, console: ConsoleDep, template_id: Id, saved: str = ""
) -> HTMLResponse:
    row = templates.get(console.session, console.principal, template_id)
    return _editor(request, console, row, saved=bool(saved))


@router.post("/templates/{template_id}", response_class=HTMLResponse)
def save_template(
    request: Request, console: ConsoleDep, template_id: Id, data: PostedForm
) -> Response:
    row = templates.get(console.session, console.principal, template_id, write=True)
    draft = _draft(data)
    try:
        values = TemplateIn.model_validate(draft).model_dump(exclude={"data"})
        templates.save(console.session, console.principal, values, utcnow(), row)
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        row = templates.get(console.session, console.principal, template_id)
        return _editor(request, console, row, draft=draft, **_refusal(request, exc))
    return RedirectResponse(f"/app/templates/{template_id}?saved=1", status_code=303)


@router.post("/templates/{template_id}/delete", response_class=HTMLResponse)
def delete_template(request: Request, console: ConsoleDep, template_id: Id) -> Response:
    """Refused while a journey sends the template or a message waits with it (409)."""
    templates.get(console.session, console.principal, template_id, write=True)  # 404 first
    try:
        templates.delete(console.session, console.principal, template_id)
    except GuanxiError as exc:
        console.session.rollback()
        row = templates.get(console.session, console.principal, template_id)
        return _editor(request, console, row, **failure(request, exc))
    return RedirectResponse("/app/templates", status_code=303)
