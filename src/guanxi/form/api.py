"""Routes for forms: definitions, their hosted URL and embed code, submissions."""

from __future__ import annotations

from fastapi import APIRouter, Request

from guanxi.form import service
from guanxi.form.schemas import FormIn, FormOut, SubmissionOut
from guanxi.http.deps import DB, Actor, Listing
from guanxi.kit.clock import utcnow
from guanxi.kit.page import Page
from guanxi.kit.schema import Id
from guanxi.models import Form
from guanxi.tracking.public import own_origin

router = APIRouter(tags=["forms"])


def out(request: Request, form: Form) -> FormOut:
    result = FormOut.model_validate(form)
    base = own_origin(request)
    result.url = f"{base}/f/{form.public_key}"
    result.embed = (
        f'<div id="gx-form-{form.public_key}"></div>\n'
        f'<script>guanxi.form("{form.public_key}", "#gx-form-{form.public_key}")</script>'
    )
    return result


@router.get("/forms", response_model=list[FormOut])
def list_forms(request: Request, actor: Actor, session: DB) -> list[FormOut]:
    return [out(request, f) for f in service.list_forms(session, actor)]


@router.post("/forms", response_model=FormOut, status_code=201)
def create_form(data: FormIn, request: Request, actor: Actor, session: DB) -> FormOut:
    """A form with its fields; ``url`` is its hosted page, ``embed`` the code for a page that
    carries the tracking snippet (Settings → Web tracking)."""
    return out(request, service.create(session, actor, data, utcnow()))


@router.get("/forms/{form_id}", response_model=FormOut)
def get_form(form_id: Id, request: Request, actor: Actor, session: DB) -> FormOut:
    return out(request, service.get(session, actor, form_id))


@router.put("/forms/{form_id}", response_model=FormOut)
def update_form(form_id: Id, data: FormIn, request: Request, actor: Actor, session: DB) -> FormOut:
    return out(request, service.update(session, actor, form_id, data, utcnow()))


@router.post("/forms/{form_id}/archive", response_model=FormOut)
def archive_form(form_id: Id, request: Request, actor: Actor, session: DB) -> FormOut:
    """Stop taking answers (the page says so); submissions stay."""
    return out(request, service.set_status(session, actor, form_id, "archived", utcnow()))


@router.post("/forms/{form_id}/activate", response_model=FormOut)
def activate_form(form_id: Id, request: Request, actor: Actor, session: DB) -> FormOut:
    return out(request, service.set_status(session, actor, form_id, "active", utcnow()))


@router.get("/forms/{form_id}/submissions", response_model=Page[SubmissionOut])
def submissions(form_id: Id, actor: Actor, session: DB, listing: Listing) -> Page[SubmissionOut]:
    rows, cursor = service.submissions(
        session, actor, form_id, limit=listing.limit, cursor=listing.cursor
    )
    return Page(
        items=[SubmissionOut.model_validate(r.FormSubmission) for r in rows], next_cursor=cursor
    )
