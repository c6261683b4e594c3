"""Pydantic shapes of segments."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from guanxi.contact.schemas import ContactOut
from guanxi.kit.schema import Id
from guanxi.segment.conditions import Condition


class SegmentIn(BaseModel):
    """A dynamic segment (a ``condition``, kept current as events and changes arrive) or a
    static list (members added and removed by hand, by API or by import)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    kind: Literal["dynamic", "static"] = "dynamic"
    condition: Condition | None = None

    @model_validator(mode="after")
    def _condition_for_dynamic(self) -> SegmentIn:
        if (self.kind == "dynamic") != (self.condition is not None):
            raise ValueError("a dynamic segment has a condition, a static list none")
        return self


class SegmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    name: str
    kind: str
    condition: dict[str, Any] | None
    member_count: int
    created_by: Id | None
    created_at: datetime
    updated_at: datetime
    rebuilt_at: datetime | None


class MembersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_ids: list[Id] = Field(min_length=1, max_length=10_000)


class MembersOut(BaseModel):
    added: int = 0
    removed: int = 0


class Day(BaseModel):
    day: date
    entered: int
    exited: int


class LookalikeOut(BaseModel):
    contact: ContactOut
    similarity: float
