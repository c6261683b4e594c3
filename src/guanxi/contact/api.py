"""Routes for contacts: the list, the 360° view, identities, consent, timeline, identify and
merges; and custom field definitions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from guanxi.account import service as accounts
from guanxi.account.schemas import AccountOut, ContactAccountOut
from guanxi.contact import collisions, export, exports, service
from guanxi.contact import duplicates as duplicates_service
from guanxi.contact import fields as custom_fields
from guanxi.contact.schemas import (
    Channel,
    ConsentIn,
    ConsentOut,
    ContactIn,
    ContactOut,
    ContactPatch,
    CustomFieldIn,
    CustomFieldOut,
    CustomFieldPatch,
    IdentifyIn,
    IdentifyOut,
    IdentityIn,
    IdentityOut,
    MergeIn,
    MergeOut,
)
from guanxi.event import service as events
from guanxi.event.schemas import EventOut
from guanxi.http.deps import DB, Actor, Listing
from guanxi.http.errors import errors
from guanxi.identity import merging
from guanxi.identity import repository as identities
from guanxi.identity import service as resolution
from guanxi.kit.clock import utcnow
from guanxi.kit.page import Page
from guanxi.kit.schema import Id
from guanxi.lifecycle import service as lifecycle
from guanxi.models import Job

router = APIRouter(tags=["contacts"])


class DuplicateOut(BaseModel):
    a: ContactOut
    b: ContactOut
    reason: Literal["same_name_same_account", "same_name_same_city"]


class Contact360(BaseModel):
    contact: ContactOut
    identities: list[IdentityOut]
    accounts: list[ContactAccountOut]
    consent: list[ConsentOut]
    merges: list[MergeOut]


def _custom_filters(request: Request) -> dict[str, str]:
    return {
        k.removeprefix("custom."): v
        for k, v in request.query_params.items()
        if k.startswith("custom.") and len(k) > 7
    }


@router.get("/contacts", response_model=Page[ContactOut], responses=errors(404))
def list_contacts(
    request: Request,
    actor: Actor,
    session: DB,
    listing: Listing,
    q: Annotated[
        str | None, Query(max_length=120, description="Part of a name, email or phone.")
    ] = None,
    owner_id: Annotated[Id | None, Query()] = None,
    stage: Annotated[str | None, Query(max_length=32)] = None,
    source: Annotated[str | None, Query(max_length=120)] = None,
    account_id: Annotated[Id | None, Query()] = None,
    segment_id: Annotated[Id | None, Query(description="Members of this segment.")] = None,
    status: Literal["active", "merged"] = "active",
) -> Page[ContactOut]:
    """Contacts your data scope shows. Sort by ``created_at``, ``updated_at`` or ``name``; filter
    custom fields with ``custom.<key>=<value>``."""
    rows, cursor = service.list_contacts(
        session,
        actor,
        q=q,
        owner_id=owner_id,
        stage=stage,
        source=source,
        account_id=account_id,
        segment_id=segment_id,
        status=status,
        custom=_custom_filters(request),
        sort=listing.sort,
        limit=listing.limit,
        cursor=listing.cursor,
    )
    return Page(items=[ContactOut.model_validate(r.Contact) for r in rows], next_cursor=cursor)


@router.get(
    "/contacts/export.csv", response_class=StreamingResponse, responses=errors(400, 404, 422)
)
def export_contacts(
    request: Request,
    actor: Actor,
    q: Annotated[str | None, Query(max_length=120)] = None,
    owner_id: Annotated[Id | None, Query()] = None,
    stage: Annotated[str | None, Query(max_length=32)] = None,
    source: Annotated[str | None, Query(max_length=120)] = None,
    account_id: Annotated[Id | None, Query()] = None,
    segment_id: Annotated[Id | None, Query(description="Members of this segment.")] = None,
) -> StreamingResponse:
    """The contacts the list would show with the same filters, as CSV, streamed: any number of
    rows, custom fields as ``custom.<key>`` columns (a segment's export: ``segment_id``)."""
    filters = {
        "q": q or None,
        "owner_id": owner_id,
        "stage": stage or None,
        "source": source,
        "account_id": account_id,
        "segment_id": segment_id,
        "status": "active",
        "custom": _custom_filters(request),
    }
    chunks = export.csv_chunks(request.app.state.sessionmaker, actor, filters)
    first = next(chunks)  # checks permission and filters before the answer starts
    headers = {"Content-Disposition": 'attachment; filename="contacts.csv"'}
    body = (chunk.encode() for chunk in _prepend(first, chunks))
    return StreamingResponse(body, media_type="text/csv; charset=utf-8", headers=headers)


def _prepend(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


@router.post("/contacts", response_model=ContactOut, status_code=201, responses=errors(404))
def create_contact(data: ContactIn, actor: Actor, session: DB) -> ContactOut:
    """Create a contact. Identities already held by another contact are refused with 409
    ``identity_taken`` (its id in ``details``): use ``/identify`` to find-or-create and merge."""
    now = utcnow()
    if data.stage is not None:  # refused before anything is written
        lifecycle.known(session, actor.workspace_id, data.stage)
    fields = lifecycle.without_stage(data)
    contact = resolution.create_contact(session, actor, fields, data.identities, now)
    if data.stage is not None:
        lifecycle.write_field(session, actor, contact, data.stage, now)
    return ContactOut.model_validate(contact)


@router.get("/contacts/{contact_id}", response_model=Contact360)
def get_contact(contact_id: Id, actor: Actor, session: DB) -> Contact360:
    """The 360° view: profile, identities, accounts with roles, consent and merge history. A
    merged contact answers with ``status: merged`` and ``merged_into_id``."""
    contact = service.get(session, actor, contact_id)
    return Contact360(
        contact=ContactOut.model_validate(contact),
        identities=[
            IdentityOut.model_validate(i)
            for i in identities.of_contacts(session, actor.workspace_id, [contact.id])
        ],
        accounts=[
            ContactAccountOut(
                account=AccountOut.model_validate(a),
                role=link.role,
                title=link.title,
                reports_to_id=link.reports_to_id,
            )
            for a, link in accounts.accounts_of(session, actor, contact.id)
        ],
        consent=[
            ConsentOut.model_validate(c)
            for c in service.consents(session, actor.workspace_id, contact.id)
        ],
        merges=[
            MergeOut.model_validate(m)
            for m in identities.merges_of(session, actor.workspace_id, contact.id)
        ],
    )


@router.patch("/contacts/{contact_id}", response_model=ContactOut)
def update_contact(contact_id: Id, data: ContactPatch, actor: Actor, session: DB) -> ContactOut:
    """Change fields. A new email or phone also becomes an identity (409 if another contact has
    it); the old one stays among the identities."""
    now = utcnow()
    changes, stage = lifecycle.split_stage(data.changes())
    if stage is not None:
        lifecycle.known(session, actor.workspace_id, stage)
    contact = resolution.update_contact(session, actor, contact_id, changes, now)
    if "stage" in data.changes():
        lifecycle.write_field(session, actor, contact, stage, now)
    return ContactOut.model_validate(contact)


@router.get("/contacts/{contact_id}/timeline", response_model=Page[EventOut])
def timeline(
    contact_id: Id,
    actor: Actor,
    session: DB,
    listing: Listing,
    type: Annotated[
        list[str] | None, Query(max_length=20, description="Only these event types.")
    ] = None,
) -> Page[EventOut]:
    """Every event of the contact (merged contacts' included), newest first."""
    contact = service.get(session, actor, contact_id)
    rows, cursor = events.timeline(
        session,
        actor.workspace_id,
        contact.id,
        types=type or [],
        limit=listing.limit,
        cursor=listing.cursor,
    )
    return Page(items=[EventOut.model_validate(r.Event) for r in rows], next_cursor=cursor)


@router.post("/contacts/{contact_id}/identities", response_model=IdentityOut, status_code=201)
def add_identity(contact_id: Id, data: IdentityIn, actor: Actor, session: DB) -> IdentityOut:
    return IdentityOut.model_validate(
        resolution.add_identity(session, actor, contact_id, data, utcnow())
    )


@router.delete("/contacts/{contact_id}/identities/{identity_id}", status_code=204)
def remove_identity(contact_id: Id, identity_id: Id, actor: Actor, session: DB) -> Response:
    resolution.remove_identity(session, actor, contact_id, identity_id)
    return Response(status_code=204)


@router.put("/contacts/{contact_id}/consent/{channel}", response_model=ConsentOut)
def set_consent(
    contact_id: Id, channel: Channel, data: ConsentIn, actor: Actor, session: DB
) -> ConsentOut:
    """Record an opt-in or opt-out for one channel, with its source."""
    row = service.set_consent(
        session, actor, contact_id, channel, data.status, data.source, utcnow()
    )
    return ConsentOut.model_validate(row)


@router.post("/identify", response_model=IdentifyOut, responses=errors(404))
def identify(data: IdentifyIn, actor: Actor, session: DB) -> IdentifyOut:
    """Find or create the person these identities name, merging the contacts they prove to be
    one person (409 ``identity_conflict`` when they name different people), fill in attributes,
    and record events on the result. Channels, forms and integrations call this."""
    now = utcnow()
    stage = data.attributes.stage
    if stage is not None:
        lifecycle.known(session, actor.workspace_id, stage)
    result = resolution.identify(
        session,
        actor,
        data.identities,
        lifecycle.without_stage(data.attributes),
        overwrite=data.overwrite,
        source=data.source,
        now=now,
    )
    if stage is not None and (data.overwrite or result.contact.stage is None):
        lifecycle.write_field(session, actor, result.contact, stage, now)
    recorded = events.record(
        session, actor.workspace_id, result.contact.id, data.events, source=data.source, now=now
    )
    return IdentifyOut(
        contact=ContactOut.model_validate(result.contact),
        created=result.created,
        merges=[MergeOut.model_validate(m) for m in result.merges],
        events_recorded=recorded,
    )


@router.post("/contacts/{contact_id}/merge", response_model=MergeOut)
def merge(contact_id: Id, data: MergeIn, actor: Actor, session: DB) -> MergeOut:
    """Merge another contact into this one (this one survives); undo with ``/merges/{id}/undo``."""
    return MergeOut.model_validate(
        merging.merge_manual(session, actor, contact_id, data.other_id, utcnow())
    )


@router.post("/merges/{merge_id}/undo", response_model=MergeOut)
def undo_merge(merge_id: Id, actor: Actor, session: DB) -> MergeOut:
    """Restore the merged contact with its identities, account links, events and fields."""
    return MergeOut.model_validate(merging.undo(session, actor, merge_id, utcnow()))


@router.get("/duplicates", response_model=Page[DuplicateOut])
def duplicates(
    actor: Actor, session: DB, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> Page[DuplicateOut]:
    """Contacts that are probably one person but share no identity: the same name at the same
    account, or in the same city. Merge with ``POST /contacts/{a}/merge``."""
    pairs = duplicates_service.suggestions(session, actor, limit)
    items = [
        DuplicateOut(
            a=ContactOut.model_validate(p.a), b=ContactOut.model_validate(p.b), reason=p.reason
        )
        for p in pairs
    ]
    return Page(items=items, next_cursor=None)


class CollisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    object: Literal["contact", "account"]
    object_id: Id
    owner_id: Id
    actor_id: Id
    action: str
    created_at: datetime


@router.get("/collisions", response_model=Page[CollisionOut])
def list_collisions(
    actor: Actor, session: DB, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> Page[CollisionOut]:
    """Writes to records someone else owns (撞单): yours, or the workspace's with a data scope of
    all. The owner is notified."""
    items = [
        CollisionOut.model_validate(c) for c in collisions.list_collisions(session, actor, limit)
    ]
    return Page(items=items, next_cursor=None)


@router.get("/custom-fields", response_model=Page[CustomFieldOut])
def list_fields(
    actor: Actor, session: DB, object: Literal["contact", "account"] | None = None
) -> Page[CustomFieldOut]:
    items = [
        CustomFieldOut.model_validate(f) for f in custom_fields.list_fields(session, actor, object)
    ]
    return Page(items=items, next_cursor=None)


@router.post("/custom-fields", response_model=CustomFieldOut, status_code=201)
def create_field(data: CustomFieldIn, actor: Actor, session: DB) -> CustomFieldOut:
    field = custom_fields.create_field(
        session,
        actor,
        obj=data.object,
        key=data.key,
        label=data.label,
        kind=data.type,
        options=data.options,
        required=data.required,
    )
    return CustomFieldOut.model_validate(field)


@router.get("/custom-fields/{field_id}", response_model=CustomFieldOut)
def get_field(field_id: Id, actor: Actor, session: DB) -> CustomFieldOut:
    return CustomFieldOut.model_validate(custom_fields.get_field(session, actor, field_id))


@router.patch("/custom-fields/{field_id}", response_model=CustomFieldOut)
def update_field(field_id: Id, data: CustomFieldPatch, actor: Actor, session: DB) -> CustomFieldOut:
    """Change the label, options or whether it is required (not the key or type)."""
    return CustomFieldOut.model_validate(
        custom_fields.update_field(session, actor, field_id, data.changes())
    )


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["csv", "xlsx"] = "xlsx"
    q: str | None = Field(default=None, max_length=120)
    owner_id: Id | None = None
    stage: str | None = Field(default=None, max_length=32)
    source: str | None = Field(default=None, max_length=120)
    account_id: Id | None = None
    segment_id: Id | None = None


class ExportOut(BaseModel):
    id: Id
    status: Literal["pending", "running", "done", "failed", "cancelled"]
    format: Literal["csv", "xlsx"]
    rows: int | None
    created_at: datetime
    finished_at: datetime | None


def _export_out(job: Job) -> ExportOut:
    rows = job.progress.get("rows")
    return ExportOut(
        id=job.id,
        status=job.status,
        format=job.payload["format"],
        rows=rows,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


@router.post("/exports", response_model=ExportOut, status_code=201)
def start_export(data: ExportIn, actor: Actor, session: DB) -> ExportOut:
    """Export contacts (your data scope, these filters) to a file, as a job: for sets too large
    to stream. Follow it with ``GET /exports/{id}``, then download ``/exports/{id}/file``."""
    filters = data.model_dump(exclude={"format"}, exclude_none=True)
    return _export_out(exports.start(session, actor, data.format, filters))


@router.get("/exports/{job_id}", response_model=ExportOut)
def get_export(job_id: Id, actor: Actor, session: DB) -> ExportOut:
    return _export_out(exports.get(session, actor, job_id))


@router.get("/exports/{job_id}/file", response_class=FileResponse, responses=errors(409))
def download_export(job_id: Id, actor: Actor, session: DB) -> FileResponse:
    path, fmt = exports.file_of(session, actor, job_id)
    media = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return FileResponse(path, media_type=media, filename=f"contacts-{job_id}.{fmt}")
