"""Pydantic shapes of scoring models, rules and scores."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from guanxi.errors import InvalidValue
from guanxi.i18n import N_
from guanxi.kit.schema import Id
from guanxi.segment.conditions import Condition, PropFilter


class Grades(BaseModel):
    """Fit thresholds: A at or above ``A``, B at or above ``B``, C at or above ``C``, else D."""

    model_config = ConfigDict(extra="forbid")

    A: float = 75
    B: float = 50
    C: float = 25

    @model_validator(mode="after")
    def _descending(self) -> Grades:
        if not self.A >= self.B >= self.C:
            raise InvalidValue(N_("grade thresholds go down from A to C"))
        return self


class ModelIn(BaseModel):
    """``points``: a model with engagement and fit rules of its own; ``combined``: ``weights``
    of other points models (model id → weight). ``decay``: none, ``half_life`` (points lose half
    their worth every ``decay_days``) or ``linear`` (points fade to nothing over
    ``decay_days``). ``rollup``: an account's score from its contacts' (sum, max, or the sum of
    the ``rollup_n`` best)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    kind: Literal["points", "combined"] = "points"
    decay: Literal["none", "half_life", "linear"] = "none"
    decay_days: int | None = Field(default=None, ge=1, le=3650)
    weights: dict[Id, float] = Field(default_factory=dict)
    grades: Grades = Field(default_factory=Grades)
    rollup: Literal["sum", "max", "top_n"] = "sum"
    rollup_n: int = Field(default=3, ge=1, le=100)
    enabled: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> ModelIn:
        if (self.decay == "none") != (self.decay_days is None):
            raise InvalidValue(N_("decay_days goes with a decay, and only with one"))
        if (self.kind == "combined") != bool(self.weights):
            raise InvalidValue(N_("a combined model has weights, a points model none"))
        if self.kind == "combined" and self.decay != "none":
            raise InvalidValue(N_("a combined model decays as its models do"))
        return self


class ModelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    name: str
    kind: str
    decay: str
    decay_days: int | None
    weights: dict[str, float]
    grades: dict[str, float]
    rollup: str
    rollup_n: int
    enabled: bool
    version: int
    scored_version: int
    created_at: datetime


class RuleIn(BaseModel):
    """``engagement``: ``points`` for each event of ``event_type`` matching ``where``, at most
    ``cap`` points per ``cap_days`` days per contact; ``fit``: points while the contact matches
    ``condition``; ``account_fit``: points to an account matching ``condition`` (its fields)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["engagement", "fit", "account_fit"]
    name: str = Field(min_length=1, max_length=120)
    event_type: str | None = Field(default=None, max_length=64)
    where: list[PropFilter] = Field(default_factory=list, max_length=10)
    condition: Condition | None = None
    points: float = Field(ge=-10_000, le=10_000)
    cap: float | None = Field(default=None, gt=0, le=1_000_000)
    cap_days: int | None = Field(default=None, ge=1, le=3650)

    @model_validator(mode="after")
    def _consistent(self) -> RuleIn:
        if self.points == 0:
            raise InvalidValue(N_("a rule gives or takes points: not 0"))
        if self.kind == "engagement":
            if self.event_type is None or self.condition is not None:
                raise InvalidValue(N_("an engagement rule names an event type and no condition"))
            if (self.cap is None) != (self.cap_days is None):
                raise InvalidValue(N_("a cap goes with its period in days"))
        elif self.condition is None or self.event_type or self.where or self.cap:
            raise InvalidValue(N_("a fit rule has a condition and nothing about events"))
        return self


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    model_id: Id
    kind: str
    name: str
    event_type: str | None
    where: list[Any]
    condition: dict[str, Any] | None
    points: float
    cap: float | None
    cap_days: int | None
    created_at: datetime


class ScoreOut(BaseModel):
    model_id: Id
    name: str
    score: float
    engagement: float
    fit: float
    grade: str


class PointOut(BaseModel):
    """Points earned (or lost) in the ledger, and what they are worth now after decay."""

    rule_id: Id
    rule: str | None
    event_id: Id | None
    points: float
    worth_now: float
    earned_at: datetime


class PreviewIn(BaseModel):
    """What would this contact score under these rules (the editor's, saved or not)?"""

    model_config = ConfigDict(extra="forbid")

    contact_id: Id
    rules: list[RuleIn] | None = None


class PreviewOut(BaseModel):
    score: float
    engagement: float
    fit: float
    grade: str
    points: list[PointOut]


class AccountScoreOut(BaseModel):
    model_id: Id
    name: str
    score: float
    contacts: float
    fit: float
    grade: str
