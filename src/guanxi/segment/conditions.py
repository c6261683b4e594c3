"""The condition language, pure: a typed tree of and/or/not over contact fields, custom fields,
account fields (any/all of a contact's accounts), tags, scores and grades, segment membership
and behaviour (count, sum, first and last of events of a type with property filters, in a
relative or absolute window; "did not do" is a count of 0) — checked against a workspace's
fields, tags, models and segments, and evaluated for one contact in memory.
``segment.sql.compile_sql`` is the other evaluator, for sets; a property test holds the two
equal on random trees and data.

Semantics both evaluators keep: a comparison holds only for a value that is set (so ``ne`` and
``not_in`` do not match an empty field: ask ``is_not_set`` for those); text compares exactly
(case and all); ``not`` inverts everything. A relative window of N days is
``now - N days <= occurred_at <= now``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from guanxi.errors import InvalidValue
from guanxi.i18n import N_
from guanxi.scoring import decay
from guanxi.scoring.decay import ScoreFact, ScoreSpec

Op = Literal[
    "eq", "ne", "in", "not_in", "contains", "starts_with", "gt", "gte", "lt", "lte",
    "is_set", "is_not_set",
]  # fmt: skip
Compare = Literal["eq", "ne", "gt", "gte", "lt", "lte"]
Scalar = str | float | int | bool
Id = Annotated[str, Field(pattern=r"^[0-9]{1,19}$")]  # a tag's, model's or segment's id

# Which operators each kind of value takes.
OPS: dict[str, frozenset[str]] = {
    "text": frozenset(
        {"eq", "ne", "in", "not_in", "contains", "starts_with", "is_set", "is_not_set"}
    ),
    "select": frozenset({"eq", "ne", "in", "not_in", "is_set", "is_not_set"}),
    "number": frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "is_set", "is_not_set"}),
    "date": frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "is_set", "is_not_set"}),
    "boolean": frozenset({"eq", "is_set", "is_not_set"}),
    "multi_select": frozenset({"contains", "is_set", "is_not_set"}),
}
CONTACT_FIELDS: dict[str, str] = {
    **dict.fromkeys(
        ("name", "email", "phone", "title", "city", "province", "language", "timezone", "source"),
        "text",
    ),
    **dict.fromkeys(("gender", "country", "stage"), "select"),
}
ACCOUNT_FIELDS: dict[str, str] = {
    **dict.fromkeys(("name", "domain", "region"), "text"),
    **dict.fromkeys(("industry", "size", "tier"), "select"),
    "revenue": "number",
}


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldCond(_Node):
    """A standard contact field (``field``) or a custom one (``custom.<key>``)."""

    kind: Literal["field"] = "field"
    field: str = Field(max_length=80)
    op: Op
    value: Scalar | list[Scalar] | None = None


class AccountCond(_Node):
    """A field of the contact's accounts: ``any`` of them, or ``all`` (and at least one)."""

    kind: Literal["account"] = "account"
    field: str = Field(max_length=80)
    op: Op
    value: Scalar | list[Scalar] | None = None
    quantifier: Literal["any", "all"] = "any"


class PropFilter(_Node):
    property: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$")
    op: Literal["eq", "ne", "contains", "gt", "gte", "lt", "lte"]
    value: str | float | int


class Window(_Node):
    """The last ``days`` days, or from ``since`` to before ``until``; nothing: all time."""

    days: int | None = Field(default=None, ge=1, le=3650)
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one(self) -> Window:
        if self.days is not None and (self.since or self.until):
            raise ValueError("a window is relative (days) or absolute (since/until), not both")
        return self

    def bounds(self, now: datetime) -> tuple[datetime | None, datetime | None, bool]:
        """(lower, upper, upper included)."""
        if self.days is not None:
            return now - timedelta(days=self.days), now, True
        return self.since, self.until, False


class EventCond(_Node):
    """How many events of ``type`` (matching ``where``, in ``window``) — or the sum of a number
    property over them — compared with ``value``. ``count eq 0`` is "did not do"."""

    kind: Literal["event"] = "event"
    type: str = Field(min_length=1, max_length=64)
    where: tuple[PropFilter, ...] = ()
    window: Window = Window()
    measure: Literal["count", "sum"] = "count"
    property: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_]+$")
    op: Compare = "gte"
    value: float = 1

    @model_validator(mode="after")
    def _sum_names_a_property(self) -> EventCond:
        if (self.measure == "sum") != (self.property is not None):
            raise ValueError("sum needs a property, count takes none")
        return self


class EventTimeCond(_Node):
    """When the first (or last) matching event happened, before or after a moment (``days_ago``
    days before now, or ``at``). A contact without such an event matches neither."""

    kind: Literal["event_time"] = "event_time"
    type: str = Field(min_length=1, max_length=64)
    where: tuple[PropFilter, ...] = ()
    which: Literal["first", "last"] = "last"
    op: Literal["before", "after"] = "after"
    days_ago: int | None = Field(default=None, ge=0, le=3650)
    at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_moment(self) -> EventTimeCond:
        if (self.days_ago is None) == (self.at is None):
            raise ValueError("give days_ago or at, one of them")
        return self

    def moment(self, now: datetime) -> datetime:
        return self.at if self.at is not None else now - timedelta(days=self.days_ago or 0)


class TagCond(_Node):
    """The contact holds ``any`` of these tags (by id), ``all`` of them, or ``none``."""

    kind: Literal["tag"] = "tag"
    op: Literal["any", "all", "none"] = "any"
    tags: tuple[Id, ...] = Field(min_length=1, max_length=50)


class ScoreCond(_Node):
    """A contact's score in a model (by id) now — or its engagement or fit part — compared
    with ``value``; a contact the model never scored has 0."""

    kind: Literal["score"] = "score"
    model: Id
    part: Literal["score", "engagement", "fit"] = "score"
    op: Compare = "gte"
    value: float


class GradeCond(_Node):
    """The contact's fit grade in a model is one of ``grades``."""

    kind: Literal["grade"] = "grade"
    model: Id
    grades: tuple[Literal["A", "B", "C", "D"], ...] = Field(min_length=1, max_length=4)


class SegmentCond(_Node):
    """The contact is (``in``) or is not (``not_in``) a member of a segment (by id)."""

    kind: Literal["segment"] = "segment"
    segment: Id
    op: Literal["in", "not_in"] = "in"


class And(_Node):
    kind: Literal["and"] = "and"
    all: tuple[Condition, ...] = Field(min_length=1, max_length=50)


class Or(_Node):
    kind: Literal["or"] = "or"
    any: tuple[Condition, ...] = Field(min_length=1, max_length=50)


class Not(_Node):
    kind: Literal["not"] = "not"
    condition: Condition


Condition = Annotated[
    FieldCond
    | AccountCond
    | EventCond
    | EventTimeCond
    | TagCond
    | ScoreCond
    | GradeCond
    | SegmentCond
    | And
    | Or
    | Not,
    Field(discriminator="kind"),
]
for _model in (And, Or, Not):
    _model.model_rebuild()


# -- checking a tree against a workspace -----------------------------------------------------


@dataclass(frozen=True)
class Schema:
    """What a workspace's conditions may name: custom fields by key with their type, event
    types, tags, scoring models and segments (``None``: anything, for pure tests)."""

    contact_custom: Mapping[str, str] = field(default_factory=dict)
    account_custom: Mapping[str, str] = field(default_factory=dict)
    event_types: frozenset[str] | None = None
    tags: frozenset[str] | None = None
    segments: frozenset[str] | None = None
    score_models: Mapping[str, ScoreSpec] = field(default_factory=dict)
    # "account": a tree about one account (account fit rules), its ``field`` leaves name
    # account fields and nothing else may appear
    subject: Literal["contact", "account"] = "contact"

    def contact_type(self, name: str) -> str | None:
        if self.subject == "account":
            return self.account_type(name)
        if name.startswith("custom."):
            return self.contact_custom.get(name[7:])
        return CONTACT_FIELDS.get(name)

    def account_type(self, name: str) -> str | None:
        if name.startswith("custom."):
            return self.account_custom.get(name[7:])
        return ACCOUNT_FIELDS.get(name)


def walk(node: Any) -> Iterable[Any]:
    yield node
    for child in (*getattr(node, "all", ()), *getattr(node, "any", ())):
        yield from walk(child)
    if isinstance(node, Not):
        yield from walk(node.condition)


def _check_value(kind: str, op: str, value: Any, name: str) -> None:
    if op not in OPS[kind]:
        raise InvalidValue(
            N_("{field} ({kind}) cannot be compared with {op}"), field=name, kind=kind, op=op
        )
    if op in ("is_set", "is_not_set"):
        return
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise InvalidValue(N_("{field}: {op} needs a list of values"), field=name, op=op)
        for item in value:  # each as a single value of the field's type
            _check_value(kind, "eq", item, name)
        return
    if isinstance(value, list) or value is None:
        raise InvalidValue(N_("{field}: {op} needs one value"), field=name, op=op)
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise InvalidValue(N_("{field} is a number"), field=name)
    if kind == "boolean" and not isinstance(value, bool):
        raise InvalidValue(N_("{field} is true or false"), field=name)
    if kind in ("text", "select", "date", "multi_select") and not isinstance(value, str):
        raise InvalidValue(N_("{field} is text"), field=name)


def check(tree: Any, schema: Schema) -> None:
    """Refuse (InvalidValue) a tree naming an unknown field or comparing one with an operator
    or value its type does not take."""
    for node in walk(tree):
        if schema.subject == "account" and not isinstance(node, FieldCond | And | Or | Not):
            raise InvalidValue(N_("a condition on an account compares the account's fields only"))
        if isinstance(node, FieldCond | AccountCond):
            kind = (
                schema.contact_type(node.field)
                if isinstance(node, FieldCond)
                else schema.account_type(node.field)
            )
            if kind is None:
                raise InvalidValue(N_("unknown field {field}"), field=node.field)
            _check_value(kind, node.op, node.value, node.field)
        elif (
            isinstance(node, EventCond | EventTimeCond)
            and schema.event_types is not None
            and node.type not in schema.event_types
        ):
            raise InvalidValue(N_("unknown event type {type}"), type=node.type)
        elif isinstance(node, TagCond) and schema.tags is not None:
            unknown = sorted(set(node.tags) - schema.tags)
            if unknown:
                raise InvalidValue(N_("unknown tag {tag}"), tag=unknown[0])
        elif isinstance(node, ScoreCond | GradeCond) and node.model not in schema.score_models:
            raise InvalidValue(N_("unknown scoring model {model}"), model=node.model)
        elif (
            isinstance(node, SegmentCond)
            and schema.segments is not None
            and node.segment not in schema.segments
        ):
            raise InvalidValue(N_("unknown segment {segment}"), segment=node.segment)


# events after which a contact's fields may differ (a form fills them, an identify call too)
PROFILE_EVENTS = frozenset({"form_submit", "identify", "profile_updated", "stage_changed"})


def touched_by(tree: Any, types: AbstractSet[str], moved: AbstractSet[str]) -> bool:
    """Can events of ``types`` — and entries into or exits from the segments ``moved`` — change
    this condition's answer? (What decides which rules and segments a batch re-checks.)"""
    for node in walk(tree):
        if (
            (isinstance(node, EventCond | EventTimeCond) and node.type in types)
            or (isinstance(node, TagCond) and types & {"tag_added", "tag_removed"})
            or (isinstance(node, ScoreCond | GradeCond) and "score_changed" in types)
            or (isinstance(node, FieldCond | AccountCond) and types & PROFILE_EVENTS)
            or (isinstance(node, SegmentCond) and node.segment in moved)
        ):
            return True
    return False


# -- evaluating for one contact --------------------------------------------------------------


@dataclass(frozen=True)
class EventFact:
    type: str
    occurred_at: datetime
    properties: Mapping[str, Any]


@dataclass(frozen=True)
class Profile:
    """What a condition may look at for one contact."""

    fields: Mapping[str, Any]  # standard fields and "custom" (a dict)
    accounts: Sequence[Mapping[str, Any]] = ()  # each with its fields and "custom"
    events: Sequence[EventFact] = ()
    tags: frozenset[str] = frozenset()
    scores: Mapping[str, ScoreFact] = field(default_factory=dict)  # points models by id
    segments: frozenset[str] = frozenset()


def _get(values: Mapping[str, Any], name: str) -> Any:
    if name.startswith("custom."):
        return (values.get("custom") or {}).get(name[7:])
    return values.get(name)


def _is_set(value: Any) -> bool:
    return value not in (None, "", [])


def compare(kind: str, op: str, have: Any, want: Any) -> bool:
    """One field against one operator and value, by the rules above."""
    if op == "is_set":
        return _is_set(have)
    if op == "is_not_set":
        return not _is_set(have)
    if not _is_set(have):
        return False
    if kind == "multi_select":
        return isinstance(have, list) and want in have
    if kind == "number":
        have = float(have)
        want = float(want)
    if op == "eq":
        return bool(have == want)
    if op == "ne":
        return bool(have != want)
    if op == "in":
        return have in want
    if op == "not_in":
        return have not in want
    if op == "contains":
        return isinstance(have, str) and want in have
    if op == "starts_with":
        return isinstance(have, str) and have.startswith(want)
    return bool(
        {
            "gt": have > want,
            "gte": have >= want,
            "lt": have < want,
            "lte": have <= want,
        }[op]
    )


def prop_matches(f: PropFilter, properties: Mapping[str, Any]) -> bool:
    """A property filter: numbers compare with numbers, text with text; anything else fails."""
    have = properties.get(f.property)
    if isinstance(f.value, str):
        if not isinstance(have, str):
            return False
        return f.value in have if f.op == "contains" else compare("date", f.op, have, f.value)
    value = number(have)
    return value is not None and f.op != "contains" and compare("number", f.op, value, f.value)


def _matching(
    events: Sequence[EventFact], type: str, where: Sequence[PropFilter]
) -> list[EventFact]:
    return [
        e for e in events if e.type == type and all(prop_matches(f, e.properties) for f in where)
    ]


def _in_window(at: datetime, window: Window, now: datetime) -> bool:
    lower, upper, upper_in = window.bounds(now)
    if lower is not None and at < lower:
        return False
    return upper is None or (at <= upper if upper_in else at < upper)


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def evaluate(tree: Any, profile: Profile, schema: Schema, now: datetime) -> bool:
    """Does this contact match? (The tree has passed ``check``.)"""
    if isinstance(tree, And):
        return all(evaluate(c, profile, schema, now) for c in tree.all)
    if isinstance(tree, Or):
        return any(evaluate(c, profile, schema, now) for c in tree.any)
    if isinstance(tree, Not):
        return not evaluate(tree.condition, profile, schema, now)
    if isinstance(tree, FieldCond):
        kind = schema.contact_type(tree.field) or "text"
        return compare(kind, tree.op, _get(profile.fields, tree.field), tree.value)
    if isinstance(tree, AccountCond):
        kind = schema.account_type(tree.field) or "text"
        hits = [compare(kind, tree.op, _get(a, tree.field), tree.value) for a in profile.accounts]
        return bool(hits) and (all(hits) if tree.quantifier == "all" else any(hits))
    if isinstance(tree, EventCond):
        events = [
            e for e in _matching(profile.events, tree.type, tree.where)
            if _in_window(e.occurred_at, tree.window, now)
        ]  # fmt: skip
        if tree.measure == "count":
            measured = float(len(events))
        else:
            measured = sum(
                n
                for e in events
                if (n := number(e.properties.get(tree.property or ""))) is not None
            )
        return compare("number", tree.op, measured, tree.value)
    if isinstance(tree, EventTimeCond):
        times = [e.occurred_at for e in _matching(profile.events, tree.type, tree.where)]
        if not times:
            return False
        at = min(times) if tree.which == "first" else max(times)
        moment = tree.moment(now)
        return at < moment if tree.op == "before" else at >= moment
    if isinstance(tree, TagCond):
        held = [t in profile.tags for t in tree.tags]
        return {"any": any(held), "all": all(held), "none": not any(held)}[tree.op]
    if isinstance(tree, ScoreCond):
        value = decay.part(tree.model, tree.part, schema.score_models, profile.scores, now)
        return compare("number", tree.op, value, tree.value)
    if isinstance(tree, GradeCond):
        fit = decay.part(tree.model, "fit", schema.score_models, profile.scores, now)
        return decay.grade(schema.score_models[tree.model], fit) in tree.grades
    if isinstance(tree, SegmentCond):
        return (tree.segment in profile.segments) == (tree.op == "in")
    raise TypeError(f"not a condition: {tree!r}")
