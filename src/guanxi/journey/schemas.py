"""Pydantic shapes of journeys, their versions, enrolments, statistics and dry runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from guanxi.kit.schema import Id, Patch

# {old version: {old node: new node}}: the running enrolments a publish moves to the new version
Mapping_ = dict[str, dict[str, str]]


class JourneyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=500)
    graph: dict[str, Any] | None = None


class JourneyPatch(Patch):
    nullable = frozenset({"description"})

    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=500)
    graph: dict[str, Any] | None = None


class ProblemOut(BaseModel):
    code: str
    node: str | None
    port: str | None
    message: str


class JourneyOut(BaseModel):
    id: Id
    name: str
    description: str | None
    status: str
    version: int | None
    graph: dict[str, Any]
    problems: list[ProblemOut]
    running: int
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class JourneySummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    name: str
    status: str
    version: int | None
    updated_at: datetime


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mapping: Mapping_ = Field(default_factory=dict)


class ImpactOut(BaseModel):
    version: int
    node: str
    contacts: int
    moves_to: str | None


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    graph: dict[str, Any]
    published_by: Id | None
    published_at: datetime


class EnrolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_ids: list[Id] = Field(min_length=1, max_length=1000)


class EnrolOut(BaseModel):
    enrolled: list[Id]


class EnrolmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    journey_id: Id
    version: int
    contact_id: Id
    rotation: int
    node_id: str
    status: str
    due_at: datetime | None
    source: str | None
    entered_at: datetime
    finished_at: datetime | None
    exit_reason: str | None


class NodeStats(BaseModel):
    node: str
    kind: str
    entered: int
    waiting: int
    done: int
    failed: int
    skipped: dict[str, int]
    messages: dict[str, int]


class VariantStats(BaseModel):
    node: str
    variant: str
    contacts: int
    converted: int


class StatsOut(BaseModel):
    enrolled: int
    running: int
    finished: int
    converted: int
    conversion: float
    nodes: list[NodeStats]
    variants: list[VariantStats]


class SimEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=64)
    at: AwareDatetime
    properties: dict[str, Any] = Field(default_factory=dict)


class DryRunIn(BaseModel):
    """Walk one contact through the draft (or a version) on a simulated clock."""

    model_config = ConfigDict(extra="forbid")

    contact_id: Id
    start: AwareDatetime | None = None
    days: int = Field(default=30, ge=1, le=366)
    events: list[SimEventIn] = Field(default_factory=list, max_length=200)
    source: Literal["draft", "published"] = "draft"


class DryStepOut(BaseModel):
    at: datetime
    node: str
    outcome: str
    port: str | None
    reason: str | None
    effects: list[dict[str, Any]]
