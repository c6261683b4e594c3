"""A journey's definition as data: the graph stored (as JSON) in a journey's draft and in each
published version, and its Pydantic models (the checks of a whole graph are in ``checks.py``).

A graph is nodes (a discriminated union on ``kind``; a wait is itself a union on ``mode``) and
edges leaving a node by one of its *ports* (``out``; ``yes``/``no`` of a branch; a split's
variant keys; ``event``/``timeout`` of a wait for an event). The models check each node on its
own, so a half-built draft can be saved; ``checks.validate`` checks the graph as a whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from guanxi.errors import InvalidValue
from guanxi.i18n import N_
from guanxi.segment.conditions import (
    Condition,
    GradeCond,
    PropFilter,
    ScoreCond,
    SegmentCond,
    TagCond,
    walk,
)

NodeId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
ClockTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]  # "HH:MM"
FieldName = Annotated[str, Field(pattern=r"^(custom\.)?[A-Za-z0-9_]{1,64}$")]
EventType = Annotated[str, Field(min_length=1, max_length=64)]
StageKey = Annotated[str, Field(min_length=1, max_length=40)]
RecordId = Annotated[int, Field(ge=1)]
Filters = Annotated[tuple[PropFilter, ...], Field(max_length=20)]
MAX_SECONDS = 5 * 366 * 86400  # no wait, timeout or due date further away than five years


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- entry triggers --------------------------------------------------------------------------


class SegmentEntered(_Model):
    type: Literal["segment_entered"] = "segment_entered"
    segment_id: RecordId


class SegmentExited(_Model):
    type: Literal["segment_exited"] = "segment_exited"
    segment_id: RecordId


class EventOccurred(_Model):
    type: Literal["event"] = "event"
    event_type: EventType
    filters: Filters = ()


class TagAdded(_Model):
    type: Literal["tag_added"] = "tag_added"
    tag_id: RecordId


class StageChanged(_Model):
    type: Literal["stage_changed"] = "stage_changed"
    stage: StageKey


class FormSubmitted(_Model):
    """A given form, or (``form_id`` None) any form."""

    type: Literal["form_submitted"] = "form_submitted"
    form_id: RecordId | None = None


class Anniversary(_Model):
    """``days_before`` the yearly return of a date field (``birthday``, ``custom.signup_date``),
    at ``time`` in the contact's timezone."""

    type: Literal["anniversary"] = "anniversary"
    field: FieldName
    days_before: int = Field(default=0, ge=0, le=365)
    time: ClockTime = "09:00"


class Manual(_Model):
    """Enrolled by hand, through the API or by another journey."""

    type: Literal["manual"] = "manual"


class Scheduled(_Model):
    """A segment's members, in one batch at ``at`` (and every day or week after)."""

    type: Literal["scheduled"] = "scheduled"
    segment_id: RecordId
    at: AwareDatetime
    repeat: Literal["once", "daily", "weekly"] = "once"


Trigger = Annotated[
    SegmentEntered | SegmentExited | EventOccurred | TagAdded | StageChanged | FormSubmitted
    | Anniversary | Manual | Scheduled,
    Field(discriminator="type"),
]  # fmt: skip


# -- nodes -----------------------------------------------------------------------------------


class _Node(_Model):
    id: NodeId
    x: float | None = None  # where the canvas draws it
    y: float | None = None
    label: str | None = Field(default=None, max_length=120)


class EntryNode(_Node):
    kind: Literal["entry"] = "entry"
    trigger: Trigger


class WaitDuration(_Node):
    kind: Literal["wait"] = "wait"
    mode: Literal["duration"] = "duration"
    seconds: int = Field(ge=1, le=MAX_SECONDS)


class WaitUntil(_Node):
    """Until the next of these ISO weekdays (Monday 1) at ``time`` in the contact's timezone,
    strictly after arriving."""

    kind: Literal["wait"] = "wait"
    mode: Literal["until"] = "until"
    weekdays: tuple[Annotated[int, Field(ge=1, le=7)], ...] = Field(min_length=1, max_length=7)
    time: ClockTime


class WaitEvent(_Node):
    """Until the contact does ``event_type`` (port ``event``), at most ``timeout_s`` seconds
    (port ``timeout``)."""

    kind: Literal["wait"] = "wait"
    mode: Literal["event"] = "event"
    event_type: EventType
    filters: Filters = ()
    timeout_s: int = Field(ge=1, le=MAX_SECONDS)


WaitNode = Annotated[WaitDuration | WaitUntil | WaitEvent, Field(discriminator="mode")]


class BranchNode(_Node):
    kind: Literal["branch"] = "branch"
    condition: Condition


class Variant(_Model):
    key: NodeId
    weight: int = Field(ge=1, le=10_000)


class SplitNode(_Node):
    """A random split (A/B test): each contact takes one variant, with chances by weight."""

    kind: Literal["split"] = "split"
    variants: tuple[Variant, ...] = Field(min_length=2, max_length=10)

    @field_validator("variants")
    @classmethod
    def _unique_keys(cls, variants: tuple[Variant, ...]) -> tuple[Variant, ...]:
        if len({v.key for v in variants}) != len(variants):
            raise InvalidValue(N_("each variant of a split needs its own key"))
        return variants


class SendNode(_Node):
    """A message from a template; ``sender`` "owner": from the contact's owner (WeCom)."""

    kind: Literal["send"] = "send"
    channel: Literal["email", "sms", "wecom", "wechat", "whatsapp"]
    template_id: RecordId
    marketing: bool = True
    sender: Literal["owner"] | None = None


class TagNode(_Node):
    kind: Literal["tag"] = "tag"
    add: tuple[RecordId, ...] = Field(default=(), max_length=50)
    remove: tuple[RecordId, ...] = Field(default=(), max_length=50)

    @model_validator(mode="after")
    def _does_something(self) -> TagNode:
        if not self.add and not self.remove:
            raise InvalidValue(N_("add or remove at least one tag"))
        return self


class ScoreNode(_Node):
    kind: Literal["score"] = "score"
    model_id: RecordId
    points: float = Field(ge=-1_000_000, le=1_000_000)
    reason: str | None = Field(default=None, max_length=200)

    @field_validator("points")
    @classmethod
    def _not_zero(cls, points: float) -> float:
        if points == 0:
            raise InvalidValue(N_("a score step adds or takes away points: not 0"))
        return points


class SetFieldNode(_Node):
    """Set a contact field; ``value`` None clears it."""

    kind: Literal["set_field"] = "set_field"
    field: FieldName
    value: bool | int | float | str | list[str] | None


class StageNode(_Node):
    kind: Literal["stage"] = "stage"
    stage: StageKey


class AssignNode(_Node):
    """To one owner, or in turn to each of ``round_robin``."""

    kind: Literal["assign"] = "assign"
    owner_id: RecordId | None = None
    round_robin: tuple[RecordId, ...] = Field(default=(), max_length=100)

    @model_validator(mode="after")
    def _one_way(self) -> AssignNode:
        if (self.owner_id is None) == (not self.round_robin):
            raise InvalidValue(N_("assign to an owner or in turn to a list, one of them"))
        return self


class TaskNode(_Node):
    kind: Literal["task"] = "task"
    title: str = Field(min_length=1, max_length=200)
    due_in_s: int = Field(default=0, ge=0, le=MAX_SECONDS)
    assignee: Literal["owner"] | RecordId = "owner"


class NotifyNode(_Node):
    kind: Literal["notify"] = "notify"
    user: Literal["owner"] | RecordId = "owner"
    text: str = Field(min_length=1, max_length=1000)


class WebhookNode(_Node):
    """POST the contact's ``payload_fields`` to one of the workspace's webhook endpoints: a
    registered endpoint (signed, retried, switched off when it keeps failing), never a URL
    typed into the journey."""

    kind: Literal["webhook"] = "webhook"
    endpoint_id: RecordId
    payload_fields: tuple[FieldName, ...] = Field(default=(), max_length=50)


class EnrolNode(_Node):
    kind: Literal["enrol"] = "enrol"
    journey_id: RecordId


class GoalNode(_Node):
    """A conversion: a contact who meets ``condition`` anywhere in the journey is pulled here."""

    kind: Literal["goal"] = "goal"
    condition: Condition


class ExitNode(_Node):
    kind: Literal["exit"] = "exit"


Node = Annotated[
    EntryNode | WaitNode | BranchNode | SplitNode | SendNode | TagNode | ScoreNode | SetFieldNode
    | StageNode | AssignNode | TaskNode | NotifyNode | WebhookNode | EnrolNode | GoalNode
    | ExitNode,
    Field(discriminator="kind"),
]  # fmt: skip
AnyNode = (
    EntryNode | WaitDuration | WaitUntil | WaitEvent | BranchNode | SplitNode | SendNode | TagNode
    | ScoreNode | SetFieldNode | StageNode | AssignNode | TaskNode | NotifyNode | WebhookNode
    | EnrolNode | GoalNode | ExitNode
)  # fmt: skip
WAITS = (WaitDuration, WaitUntil, WaitEvent)


class Edge(_Model):
    source: NodeId
    target: NodeId
    port: NodeId = "out"


class Reentry(_Model):
    """May a contact enter again: never, once the last enrolment ended, or always (at most
    once per ``min_interval_s``)."""

    policy: Literal["never", "after_exit", "always"] = "never"
    min_interval_s: int | None = Field(default=None, ge=1, le=MAX_SECONDS)


class Settings(_Model):
    reentry: Reentry = Reentry()


class Graph(_Model):
    nodes: tuple[Node, ...] = Field(default=(), max_length=500)
    edges: tuple[Edge, ...] = Field(default=(), max_length=2000)
    settings: Settings = Settings()

    @cached_property
    def by_id(self) -> dict[str, AnyNode]:
        """Each node by id (the first, should an id repeat)."""
        found: dict[str, AnyNode] = {}
        for n in self.nodes:
            found.setdefault(n.id, n)
        return found

    @cached_property
    def targets(self) -> dict[tuple[str, str], str]:
        """Where each (node, port) leads (the first edge, should one repeat)."""
        found: dict[tuple[str, str], str] = {}
        for e in self.edges:
            found.setdefault((e.source, e.port), e.target)
        return found


class NodeMissing(LookupError):
    """An enrolment stands on a node its graph does not have (a corrupt row)."""


def node(graph: Graph, node_id: str) -> AnyNode:
    try:
        return graph.by_id[node_id]
    except KeyError:
        raise NodeMissing(node_id) from None


def next_of(graph: Graph, node_id: str, port: str) -> str | None:
    return graph.targets.get((node_id, port))


def ports(n: AnyNode) -> tuple[str, ...]:
    """The ports edges may leave ``n`` by."""
    if isinstance(n, ExitNode):
        return ()
    if isinstance(n, BranchNode):
        return ("yes", "no")
    if isinstance(n, SplitNode):
        return tuple(v.key for v in n.variants)
    if isinstance(n, WaitEvent):
        return ("event", "timeout")
    return ("out",)


def required_ports(n: AnyNode) -> tuple[str, ...]:
    """Ports that must lead somewhere: every way out of a branch, split or wait for an event.
    (A step with no ``out`` edge ends the journey there.)"""
    return ports(n) if isinstance(n, BranchNode | SplitNode | WaitEvent) else ()


def entry_of(graph: Graph) -> EntryNode | None:
    return next((n for n in graph.nodes if isinstance(n, EntryNode)), None)


def goals(graph: Graph) -> list[GoalNode]:
    return [n for n in graph.nodes if isinstance(n, GoalNode)]


# -- what a graph names ----------------------------------------------------------------------


def conditions_of(graph: Graph) -> Iterator[tuple[str, Any]]:
    """(node id, condition tree) of every branch and goal, to check against the workspace."""
    for n in graph.nodes:
        if isinstance(n, BranchNode | GoalNode):
            yield n.id, n.condition


def event_types(graph: Graph) -> set[str]:
    """Event types the trigger and the waits name (conditions name theirs, checked with them)."""
    names = {n.event_type for n in graph.nodes if isinstance(n, WaitEvent)}
    for n in graph.nodes:
        if isinstance(n, EntryNode) and isinstance(n.trigger, EventOccurred):
            names.add(n.trigger.event_type)
    return names


def fields_of(graph: Graph) -> set[str]:
    """Contact fields the graph writes (set_field) or reads (anniversary)."""
    names = {n.field for n in graph.nodes if isinstance(n, SetFieldNode)}
    for n in graph.nodes:
        if isinstance(n, EntryNode) and isinstance(n.trigger, Anniversary):
            names.add(n.trigger.field)
    return names


def referenced_ids(graph: Graph) -> dict[str, set[int]]:
    """The records the graph names, by kind, for the service to check they exist in the
    workspace: segments, tags, templates, journeys, forms, score_models, users and webhooks
    (endpoints)."""
    refs: dict[str, set[int]] = {
        k: set()
        for k in (
            "segments",
            "tags",
            "templates",
            "journeys",
            "forms",
            "score_models",
            "users",
            "webhooks",
        )
    }
    for n in graph.nodes:
        if isinstance(n, EntryNode):
            _trigger_refs(n.trigger, refs)
        elif isinstance(n, SendNode):
            refs["templates"].add(n.template_id)
        elif isinstance(n, TagNode):
            refs["tags"].update((*n.add, *n.remove))
        elif isinstance(n, ScoreNode):
            refs["score_models"].add(n.model_id)
        elif isinstance(n, EnrolNode):
            refs["journeys"].add(n.journey_id)
        elif isinstance(n, WebhookNode):
            refs["webhooks"].add(n.endpoint_id)
        elif isinstance(n, AssignNode):
            refs["users"].update(n.round_robin if n.owner_id is None else (n.owner_id,))
        elif isinstance(n, TaskNode | NotifyNode):
            who = n.assignee if isinstance(n, TaskNode) else n.user
            if isinstance(who, int):
                refs["users"].add(who)
    for _, tree in conditions_of(graph):
        for leaf in walk(tree):
            if isinstance(leaf, SegmentCond):
                refs["segments"].add(int(leaf.segment))
            elif isinstance(leaf, TagCond):
                refs["tags"].update(int(t) for t in leaf.tags)
            elif isinstance(leaf, ScoreCond | GradeCond):
                refs["score_models"].add(int(leaf.model))
    return refs


def _trigger_refs(trigger: Any, refs: dict[str, set[int]]) -> None:
    if isinstance(trigger, SegmentEntered | SegmentExited | Scheduled):
        refs["segments"].add(trigger.segment_id)
    elif isinstance(trigger, TagAdded):
        refs["tags"].add(trigger.tag_id)
    elif isinstance(trigger, FormSubmitted) and trigger.form_id is not None:
        refs["forms"].add(trigger.form_id)
