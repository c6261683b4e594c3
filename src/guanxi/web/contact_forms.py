"""Console forms to create and edit a contact: the standard fields and the workspace's custom
fields, each with an input of its type. They go through the same services as the API, so the
same rules (identities taken, collisions, validation) hold; a stage chosen here is a move
through the lifecycle, in the contact's stage history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from guanxi.contact import fields as custom_fields
from guanxi.contact import service as contacts
from guanxi.contact.schemas import ContactIn, ContactPatch
from guanxi.errors import GuanxiError
from guanxi.identity import service as resolution
from guanxi.kit.clock import utcnow
from guanxi.kit.schema import Id
from guanxi.lifecycle import service as lifecycle
from guanxi.models import Contact
from guanxi.web.labels import GENDERS
from guanxi.web.nav import MODULES
from guanxi.web.render import failure, language_of, page
from guanxi.web.session import Console, ConsoleDep, PostedForm

router = APIRouter()

STANDARD = ("name", "phone", "email", "title", "gender", "city", "province", "source", "stage")


def _form(
    request: Request,
    console: Console,
    values: dict[str, Any],
    custom: dict[str, Any],
    contact: Contact | None = None,
    **extra: Any,
) -> HTMLResponse:
    definitions = custom_fields.definitions(
        console.session, console.principal.workspace_id, "contact"
    )
    stages = lifecycle.peek(console.session, console.principal.workspace_id)
    language = language_of(request)
    return page(
        request,
        "contacts/form.html",
        status_code=extra.pop("status_code", 200),
        console=console,
        modules=MODULES,
        active="contacts",
        contact=contact,
        values=values,
        custom=custom,
        fields=sorted(definitions.values(), key=lambda f: f.label),
        genders=GENDERS,
        stages=[(st.key, lifecycle.label(st, language)) for st in stages],
        **extra,
    )


def _submitted(form: FormData, console: Console) -> tuple[dict[str, str], dict[str, Any]]:
    """What the form holds: standard fields as trimmed text, custom fields by type (a list for
    multi-select; empty means "no value")."""
    definitions = custom_fields.definitions(
        console.session, console.principal.workspace_id, "contact"
    )
    values = {name: str(form.get(name, "")).strip() for name in STANDARD}
    custom: dict[str, Any] = {}
    for key, field in definitions.items():
        if field.type == "multi_select":
            custom[key] = [str(v) for v in form.getlist(f"custom.{key}") if str(v).strip()]
        else:
            custom[key] = str(form.get(f"custom.{key}", "")).strip()
    return values, custom


def _as_form(value: Any) -> str | list[str]:
    """A stored custom value as the form sends it back when nobody touched it (so a select
    value no longer among the options survives an edit of other fields)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value)


@router.get("/contacts/new", response_class=HTMLResponse)
def new_contact(request: Request, console: ConsoleDep) -> HTMLResponse:
    console.principal.require("contacts:write")
    return _form(request, console, dict.fromkeys(STANDARD, ""), {})


@router.post("/contacts/new", response_class=HTMLResponse)
def create_contact(request: Request, console: ConsoleDep, form: PostedForm) -> Response:
    console.principal.require("contacts:write")
    values, custom = _submitted(form, console)
    try:
        now = utcnow()
        data = ContactIn(
            **{k: v for k, v in values.items() if v},
            custom={k: v for k, v in custom.items() if v not in ("", [])},
        )
        if data.stage is not None:
            lifecycle.known(console.session, console.principal.workspace_id, data.stage)
        contact = resolution.create_contact(
            console.session, console.principal, lifecycle.without_stage(data), [], now
        )
        if data.stage is not None:
            lifecycle.write_field(console.session, console.principal, contact, data.stage, now)
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return _form(request, console, values, custom, **failure(request, exc))
    return RedirectResponse(f"/app/contacts/{contact.id}", status_code=303)


@router.get("/contacts/{contact_id}/edit", response_class=HTMLResponse)
def edit_contact(request: Request, console: ConsoleDep, contact_id: Id) -> HTMLResponse:
    contact = contacts.get(console.session, console.principal, contact_id, write=True)
    values = {name: getattr(contact, name) or "" for name in STANDARD}
    return _form(request, console, values, dict(contact.custom or {}), contact)


@router.post("/contacts/{contact_id}/edit", response_class=HTMLResponse)
def save_contact(
    request: Request, console: ConsoleDep, contact_id: Id, form: PostedForm
) -> Response:
    contact = contacts.get(console.session, console.principal, contact_id, write=True)
    values, custom = _submitted(form, console)
    stored = dict(contact.custom or {})
    try:
        changes = ContactPatch(
            **{k: v or None for k, v in values.items() if k != "name" or v},
            custom={
                k: v if v not in ("", []) else None
                for k, v in custom.items()
                if _as_form(stored.get(k)) != v  # untouched values stay as stored
            },
        ).changes()
        now = utcnow()
        fields, stage = lifecycle.split_stage(changes)
        if stage is not None:
            lifecycle.known(console.session, console.principal.workspace_id, stage)
        resolution.update_contact(console.session, console.principal, contact.id, fields, now)
        if "stage" in changes:
            lifecycle.write_field(console.session, console.principal, contact, stage, now)
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return _form(request, console, values, custom, contact, **failure(request, exc))
    return RedirectResponse(f"/app/contacts/{contact.id}", status_code=303)
