"""Shapes of the tags API: groups, tags with their holder counts, holdings, bulk tagging and
auto-tag rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from guanxi.kit.schema import Id, Patch
from guanxi.segment.conditions import Condition, PropFilter

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
RuleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
TagType = Literal["basic", "fact", "model", "predicted"]
MAX_BULK = 10_000


class TagGroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    exclusive: bool = Field(
        default=False, description="A contact holds at most one tag of an exclusive group."
    )


class TagGroupPatch(Patch):
    name: Name | None = None
    exclusive: bool | None = None


class TagGroupOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    name: str
    exclusive: bool
    created_at: datetime


class TagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    group_id: Id | None = None
    type: TagType = "basic"
    department_id: Id | None = Field(
        default=None,
        description="Only this department's members (and its sub-departments') may see and "
        "use the tag, besides members with a data scope of all; none: everyone.",
    )


class TagPatch(Patch):
    nullable = frozenset({"group_id", "department_id"})

    name: Name | None = None
    group_id: Id | None = None
    type: TagType | None = None
    department_id: Id | None = None


class TagOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    name: str
    group_id: Id | None
    type: TagType
    department_id: Id | None
    created_at: datetime
    contacts: int = Field(default=0, description="Active contacts you may see that hold it.")


class HoldingOut(BaseModel):
    """A tag a contact holds: since when, set how and by whom (a member or a rule)."""

    tag: TagOut
    source: str
    actor_id: Id | None
    rule_id: Id | None
    added_at: datetime


class ContactTagsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag_ids: list[Id] = Field(min_length=1, max_length=50)


class BulkIn(BaseModel):
    """Tag (or untag) many contacts: a list of ids, or everyone matching a condition."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["add", "remove"] = "add"
    contact_ids: list[Id] | None = Field(default=None, min_length=1, max_length=MAX_BULK)
    condition: Condition | None = None

    @model_validator(mode="after")
    def _one_target(self) -> BulkIn:
        if (self.contact_ids is None) == (self.condition is None):
            raise ValueError("give contact_ids or condition, one of them")
        return self


class BulkOut(BaseModel):
    matched: int = Field(description="Active contacts you may see among those named.")
    changed: int = Field(description="Of those, how many gained (or lost) the tag.")


Trigger = Literal["event", "code", "content"]


class TagRuleIn(BaseModel):
    """``event``: an event of ``event_type`` matching ``where``; ``code``: a ``qr_scan`` of the
    channel code ``code``; ``content``: a ``content_view`` of ``content_id``. Then, if the
    contact matches ``condition`` (the condition language; none: anyone), ``action`` the tag."""

    model_config = ConfigDict(extra="forbid")

    name: RuleName
    tag_id: Id
    action: Literal["add", "remove"] = "add"
    trigger: Trigger = "event"
    event_type: str | None = Field(default=None, min_length=1, max_length=64)
    where: list[PropFilter] = Field(default_factory=list, max_length=10)
    code: str | None = Field(default=None, min_length=1, max_length=64)
    content_id: Id | None = None
    condition: Condition | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _trigger_named(self) -> TagRuleIn:
        needs = {"event": "event_type", "code": "code", "content": "content_id"}[self.trigger]
        given = {k for k in ("event_type", "code", "content_id") if getattr(self, k) is not None}
        if given != {needs}:
            raise ValueError(f"a {self.trigger} rule takes {needs} (and not the others)")
        if self.trigger != "event" and self.where:
            raise ValueError("where filters belong to event rules")
        return self


class TagRulePatch(Patch):
    """Any part of a rule's definition; what is not sent stays. Changing ``trigger`` drops the
    old trigger's fields (send the new one's)."""

    nullable = frozenset({"condition"})

    name: RuleName | None = None
    tag_id: Id | None = None
    action: Literal["add", "remove"] | None = None
    trigger: Trigger | None = None
    event_type: str | None = Field(default=None, min_length=1, max_length=64)
    where: list[PropFilter] | None = Field(default=None, max_length=10)
    code: str | None = Field(default=None, min_length=1, max_length=64)
    content_id: Id | None = None
    condition: Condition | None = None
    enabled: bool | None = None


class TagRuleOut(BaseModel):
    id: Id
    name: str
    tag_id: Id
    action: Literal["add", "remove"]
    trigger: Trigger
    event_type: str
    where: list[dict[str, Any]]
    code: str | None
    content_id: Id | None
    condition: dict[str, Any] | None
    enabled: bool
    created_at: datetime
