"""Routes for segments: the live preview of a condition, dynamic segments and static lists,
members, entered/exited history, the repair rebuild, and lookalikes."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from guanxi.contact.export import cell
from guanxi.contact.schemas import ContactOut
from guanxi.http.deps import DB, Actor, Listing
from guanxi.kit.clock import utcnow
from guanxi.kit.page import Page
from guanxi.kit.schema import Id
from guanxi.segment import lookalike, manage, service
from guanxi.segment.conditions import Condition
from guanxi.segment.schemas import Day, LookalikeOut, MembersIn, MembersOut, SegmentIn, SegmentOut

router = APIRouter(tags=["segments"])


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    condition: Condition
    sample: int = Field(default=10, ge=0, le=50)


class PreviewOut(BaseModel):
    count: int
    sample: list[ContactOut]


@router.post("/segments/preview", response_model=PreviewOut)
def preview(data: PreviewIn, actor: Actor, session: DB) -> PreviewOut:
    """How many contacts (of those you may see) match a condition, and a sample, now. The
    condition language: ``and``/``or``/``not`` over ``field`` (standard fields and
    ``custom.<key>``), ``account`` (any/all of the contact's accounts), ``tag`` (any/all/none
    of tag ids), ``score`` and ``grade`` (a scoring model's score, engagement or fit now, fit
    grade), ``segment`` (membership), ``event`` (count or sum of events of a type with property
    filters in a window — ``count eq 0`` is "did not do") and ``event_time`` (first/last
    occurrence before/after a moment). Unknown fields, tags, models, segments or event types
    and operators that do not fit a field's type are 422 ``invalid_condition``."""
    count, rows = service.preview(session, actor, data.condition, utcnow(), data.sample)
    return PreviewOut(count=count, sample=[ContactOut.model_validate(r) for r in rows])


@router.get("/segments", response_model=list[SegmentOut])
def list_segments(actor: Actor, session: DB) -> list[SegmentOut]:
    return [SegmentOut.model_validate(s) for s in manage.list_segments(session, actor)]


@router.post("/segments", response_model=SegmentOut, status_code=201)
def create(data: SegmentIn, actor: Actor, session: DB) -> SegmentOut:
    """A dynamic segment is built at once (by a job in a workspace of more than 20,000
    contacts) and then kept current as events and changes arrive, with relative windows
    re-checked on time; entering and leaving it are events on the contact's timeline (not
    for the first build)."""
    return SegmentOut.model_validate(manage.create(session, actor, data, utcnow()))


@router.get("/segments/{segment_id}", response_model=SegmentOut)
def get(segment_id: Id, actor: Actor, session: DB) -> SegmentOut:
    return SegmentOut.model_validate(manage.get(session, actor, segment_id))


@router.put("/segments/{segment_id}", response_model=SegmentOut)
def update(segment_id: Id, data: SegmentIn, actor: Actor, session: DB) -> SegmentOut:
    """A new condition rebuilds the members (entries and exits are events). A condition that
    leads back to this segment through the segments it names is 409 ``segment_cycle``."""
    return SegmentOut.model_validate(manage.update(session, actor, segment_id, data, utcnow()))


@router.delete("/segments/{segment_id}", status_code=204)
def delete(segment_id: Id, actor: Actor, session: DB) -> Response:
    """Refused (409 ``segment_in_use``) while another segment's condition names it."""
    manage.delete_segment(session, actor, segment_id)
    return Response(status_code=204)


@router.post("/segments/{segment_id}/rebuild", response_model=SegmentOut)
def rebuild(segment_id: Id, actor: Actor, session: DB) -> SegmentOut:
    """Repair: make the members match the condition again (set-based)."""
    return SegmentOut.model_validate(manage.rebuild(session, actor, segment_id, utcnow()))


@router.get("/segments/{segment_id}/members", response_model=Page[ContactOut])
def members(segment_id: Id, listing: Listing, actor: Actor, session: DB) -> Page[ContactOut]:
    rows, cursor = manage.members(session, actor, segment_id, listing.limit, listing.cursor)
    return Page(items=[ContactOut.model_validate(c) for c in rows], next_cursor=cursor)


@router.post("/segments/{segment_id}/members", response_model=MembersOut)
def add_members(segment_id: Id, data: MembersIn, actor: Actor, session: DB) -> MembersOut:
    """Add contacts to a static list (409 ``segment_not_static`` for a dynamic segment)."""
    added = manage.change_members(
        session, actor, segment_id, data.contact_ids, True, utcnow(), "api"
    )
    return MembersOut(added=added)


@router.post("/segments/{segment_id}/members/remove", response_model=MembersOut)
def remove_members(segment_id: Id, data: MembersIn, actor: Actor, session: DB) -> MembersOut:
    removed = manage.change_members(
        session, actor, segment_id, data.contact_ids, False, utcnow(), "api"
    )
    return MembersOut(removed=removed)


@router.get("/segments/{segment_id}/history", response_model=list[Day])
def history(
    segment_id: Id, actor: Actor, session: DB, days: Annotated[int, Query(ge=1, le=365)] = 30
) -> list[Day]:
    """Contacts entered and exited per day (UTC), oldest first."""
    return [
        Day.model_validate(d) for d in manage.history(session, actor, segment_id, days, utcnow())
    ]


@router.get("/segments/{segment_id}/lookalikes", response_model=list[LookalikeOut])
def lookalikes(
    segment_id: Id, actor: Actor, session: DB, limit: Annotated[int, Query(ge=1, le=5000)] = 100
) -> list[LookalikeOut]:
    """The contacts outside the segment most like its members (tags, field values, recent
    behaviour), most similar first."""
    found = lookalike.lookalike(session, actor, segment_id, limit, utcnow())
    return [LookalikeOut(contact=ContactOut.model_validate(c), similarity=s) for c, s in found]


@router.get("/segments/{segment_id}/lookalikes.csv")
def lookalikes_csv(
    segment_id: Id, actor: Actor, session: DB, limit: Annotated[int, Query(ge=1, le=5000)] = 1000
) -> Response:
    """The lookalikes as a CSV file (UTF-8 with a byte-order mark, for Excel)."""
    found = lookalike.lookalike(session, actor, segment_id, limit, utcnow())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "name", "email", "phone", "similarity"])
    for contact, similarity in found:
        writer.writerow(
            [
                str(contact.id),
                *(cell(v) for v in (contact.name, contact.email, contact.phone)),
                similarity,
            ]
        )
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="lookalikes-{segment_id}.csv"'},
    )
