"""Lifecycle in and out: stages, moves, stage history and the funnel."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from guanxi.kit.schema import Id, Patch
from guanxi.segment.conditions import Condition

Key = str  # a stage key: lower-case letters, digits and _, starting with a letter
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
Cause = Literal["rule", "user", "api", "journey", "import", "merge"]


class StageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN, description="What `contact.stage` holds; fixed.")
    name: str = Field(min_length=1, max_length=80)
    kind: Literal["funnel", "exit"] = Field(
        default="funnel",
        description="funnel: a step on the line; exit: off the line (churned).",
    )
    before: str | None = Field(
        default=None,
        pattern=KEY_PATTERN,
        description="The key of the stage to insert this one before (default: at the end).",
    )
    entry_rule: Condition | None = None


class StagePatch(Patch):
    nullable = frozenset({"entry_rule"})

    name: str | None = Field(default=None, min_length=1, max_length=80)
    entry_rule: Condition | None = Field(
        default=None, description="The condition that moves contacts forward into the stage."
    )


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[str] = Field(min_length=1, max_length=100, description="Every stage, in order.")


class StageOut(BaseModel):
    id: Id
    key: str
    name: str
    label: str = Field(description="The name in the caller's language.")
    position: int
    kind: Literal["funnel", "exit"]
    entry_rule: Condition | None


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: str = Field(min_length=1, max_length=32)
    note: str | None = Field(default=None, max_length=255)


class StageChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    contact_id: Id
    from_stage: str | None
    to_stage: str
    cause: Cause
    actor_id: Id | None
    note: str | None
    backward: bool
    changed_at: datetime


class MoveOut(BaseModel):
    stage: str
    change: StageChangeOut | None = Field(
        description="The move written; null when the contact was in that stage already."
    )


class FunnelStage(BaseModel):
    key: str
    label: str
    kind: Literal["funnel", "exit"]
    current: int = Field(description="Contacts in the stage now.")
    entered: int = Field(description="Contacts that entered the stage in the period.")
    advanced: int | None = Field(
        description="Of those, how many reached a later funnel stage before `until` "
        "(null for the last funnel stage and for exit stages)."
    )
    conversion: float | None = Field(description="advanced / entered (null when none entered).")


class FunnelOut(BaseModel):
    since: datetime
    until: datetime
    stages: list[FunnelStage]


class ReapplyOut(BaseModel):
    id: Id
    status: Literal["pending", "running", "done", "failed", "cancelled"]
    moved: int = Field(description="Contacts moved so far.")
    created_at: datetime
    finished_at: datetime | None
