"""Routes for segments: the live preview of a condition."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from guanxi.contact.schemas import ContactOut
from guanxi.http.deps import DB, Actor
from guanxi.kit.clock import utcnow
from guanxi.segment import service
from guanxi.segment.conditions import Condition

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
    ``custom.<key>``), ``account`` (any/all of the contact's accounts), ``event`` (count or sum
    of events of a type with property filters in a window — ``count eq 0`` is "did not do") and
    ``event_time`` (first/last occurrence before/after a moment). Unknown fields, operators
    that do not fit a field's type and unknown event types are 422 ``invalid_condition``."""
    count, rows = service.preview(session, actor, data.condition, utcnow(), data.sample)
    return PreviewOut(count=count, sample=[ContactOut.model_validate(r) for r in rows])
