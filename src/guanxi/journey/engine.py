"""The journey engine, pure: where one enrolment goes next, and what that asks the world to do.

No database, no HTTP, no clock: the runner loads the enrolment and the contact's facts, passes
``now``, persists the ``Transition`` and writes its effects (to the outbox, the tag and score
services…) in one transaction. The engine never sends anything itself, so running it again on
the same input gives the same answer: that is what makes a retried step safe.

An enrolment *stands on* a node it has arrived at but not yet executed; ``advance`` executes
that node and arrives at the next one. Arriving increments ``visits[node]``, sets
``node_entered_at`` and, at a wait, fixes the moment it ends (``state["wait_until"]``, from
``node_entered_at``, so recomputing it gives the same moment). Goals come first: before every
step, a contact who meets a goal it has not reached is pulled to it, wherever it stands.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from guanxi.journey.graph import (
    AnyNode,
    AssignNode,
    BranchNode,
    EnrolNode,
    EntryNode,
    ExitNode,
    GoalNode,
    Graph,
    NotifyNode,
    ScoreNode,
    SendNode,
    SetFieldNode,
    SplitNode,
    StageNode,
    TagNode,
    TaskNode,
    Variant,
    WaitDuration,
    WaitEvent,
    WaitUntil,
    WebhookNode,
    entry_of,
    goals,
    next_of,
    node,
)
from guanxi.segment.conditions import EventFact, Profile, Schema, evaluate, prop_matches, touched_by

Outcome = Literal["done", "waiting", "skipped", "goal", "exit"]
ExitReason = Literal["completed", "exit_node", "goal"]


@dataclass(frozen=True)
class Enrolment:
    id: int
    contact_id: int
    node_id: str
    entered_at: datetime
    node_entered_at: datetime
    visits: Mapping[str, int] = field(default_factory=dict)  # arrivals at each node
    # wait_until (ISO), goals (reached), taken (the last event a wait took, by type: ISO)
    state: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Facts:
    profile: Profile
    schema: Schema
    timezone: ZoneInfo  # the contact's, defaulted by the caller
    events: Sequence[EventFact] = ()  # the contact's events since the enrolment began


# -- effects: what a step asks the runner to do ----------------------------------------------


@dataclass(frozen=True)
class Send:
    """One message; (enrolment, node_id, visit) is its idempotency key."""

    node_id: str
    channel: str
    template_id: int
    marketing: bool
    sender: str | None
    visit: int


@dataclass(frozen=True)
class Tag:
    add: tuple[int, ...]
    remove: tuple[int, ...]


@dataclass(frozen=True)
class Score:
    model_id: int
    points: float
    reason: str | None


@dataclass(frozen=True)
class SetField:
    field: str
    value: Any


@dataclass(frozen=True)
class Stage:
    stage: str


@dataclass(frozen=True)
class Assign:
    """To ``owner_id``, or to the next of ``round_robin`` (the runner keeps the turn)."""

    owner_id: int | None
    round_robin: tuple[int, ...]


@dataclass(frozen=True)
class Task:
    title: str
    due_at: datetime
    assignee: str | int  # "owner" or a user id


@dataclass(frozen=True)
class Notify:
    user: str | int  # "owner" or a user id
    text: str


@dataclass(frozen=True)
class Webhook:
    """A delivery to a webhook endpoint; (enrolment, node_id, visit) is its idempotency key."""

    endpoint_id: int
    payload_fields: tuple[str, ...]
    node_id: str
    visit: int


@dataclass(frozen=True)
class Enrol:
    journey_id: int


Effect = Send | Tag | Score | SetField | Stage | Assign | Task | Notify | Webhook | Enrol


@dataclass(frozen=True)
class Step:
    node_id: str
    outcome: Outcome
    port: str | None = None  # the port taken, None when the journey ended or waits there
    reason: str | None = None  # why it was skipped (no_change) or a goal not met (goal_not_met)


@dataclass(frozen=True)
class Transition:
    """Where the enrolment stands now. ``wait_until`` None and not ``finished``: due again now
    (the next node is ready, or ``run`` stopped at ``max_steps``)."""

    node_id: str
    node_entered_at: datetime
    wait_until: datetime | None
    finished: bool
    exit_reason: ExitReason | None
    effects: list[Effect]
    steps: list[Step]
    visits: Mapping[str, int]
    state: Mapping[str, Any]


def start(graph: Graph, enrolment_id: int, contact_id: int, now: datetime) -> Enrolment:
    """A new enrolment, standing on the entry (a graph that passed ``validate`` has one)."""
    entry = entry_of(graph)
    if entry is None:
        raise ValueError("a journey without an entry enrols no one")
    return Enrolment(enrolment_id, contact_id, entry.id, now, now, {entry.id: 1}, {})


def after(enrolment: Enrolment, transition: Transition) -> Enrolment:
    """The enrolment as the transition leaves it."""
    return replace(
        enrolment,
        node_id=transition.node_id,
        node_entered_at=transition.node_entered_at,
        visits=transition.visits,
        state=transition.state,
    )


# -- one step --------------------------------------------------------------------------------


class _Cursor:
    """The enrolment while one node executes (mutable, then frozen into a Transition)."""

    def __init__(self, graph: Graph, enrolment: Enrolment, facts: Facts, now: datetime) -> None:
        self.graph, self.enrolment, self.facts, self.now = graph, enrolment, facts, now
        self.node_id = enrolment.node_id
        self.node_entered_at = enrolment.node_entered_at
        self.visits = dict(enrolment.visits)
        self.state = dict(enrolment.state)
        self.wait_until: datetime | None = None
        self.exit_reason: ExitReason | None = None
        self.effects: list[Effect] = []
        self.steps: list[Step] = []

    def arrive(self, node_id: str) -> None:
        self.node_id, self.node_entered_at = node_id, self.now
        self.visits[node_id] = self.visits.get(node_id, 0) + 1
        self.state.pop("wait_until", None)
        target = node(self.graph, node_id)
        if isinstance(target, WaitDuration | WaitUntil | WaitEvent):
            self.wait_until = self.ends(target)

    def ends(self, wait: WaitDuration | WaitUntil | WaitEvent) -> datetime:
        """When the wait the enrolment stands on ends (fixed on arrival, kept in state)."""
        if "wait_until" in self.state:
            return datetime.fromisoformat(self.state["wait_until"])
        if isinstance(wait, WaitUntil):
            until = next_weekday_time(
                self.node_entered_at, wait.weekdays, wait.time, self.facts.timezone
            )
        else:
            seconds = wait.seconds if isinstance(wait, WaitDuration) else wait.timeout_s
            until = self.node_entered_at + timedelta(seconds=seconds)
        self.state["wait_until"] = until.isoformat()
        return until

    def leave(self, outcome: Outcome, port: str | None, reason: str | None = None) -> None:
        """Record the step at the current node and take ``port`` (no edge there: the journey
        is complete)."""
        target = next_of(self.graph, self.node_id, port) if port else None
        self.steps.append(Step(self.node_id, outcome, port if target else None, reason))
        if target is None:
            self.exit_reason = "completed"
        else:
            self.arrive(target)

    def transition(self) -> Transition:
        return Transition(
            node_id=self.node_id,
            node_entered_at=self.node_entered_at,
            wait_until=None if self.exit_reason else self.wait_until,
            finished=self.exit_reason is not None,
            exit_reason=self.exit_reason,
            effects=self.effects,
            steps=self.steps,
            visits=self.visits,
            state=self.state,
        )


def advance(graph: Graph, enrolment: Enrolment, facts: Facts, now: datetime) -> Transition:
    """Execute the one node the enrolment stands on (or pull it to a goal it now meets)."""
    cur = _Cursor(graph, enrolment, facts, now)
    pulled = _pulling_goal(cur)
    if pulled is not None:
        cur.arrive(pulled.id)
        _goal(cur, pulled, met=True)
    else:
        _execute(cur, node(graph, cur.node_id))
    return cur.transition()


def _pulling_goal(cur: _Cursor) -> GoalNode | None:
    reached = set(cur.state.get("goals", ()))
    for g in goals(cur.graph):
        if g.id in reached or g.id == cur.node_id:
            continue
        if evaluate(g.condition, cur.facts.profile, cur.facts.schema, cur.now):
            return g
    return None


def _goal(cur: _Cursor, goal: GoalNode, *, met: bool) -> None:
    """At a goal: reached (never pulled to it again), then on by ``out`` or done. Arriving by an
    edge without meeting the condition is passing by, not a conversion."""
    cur.state["goals"] = [*cur.state.get("goals", ()), goal.id]
    cur.leave("goal" if met else "done", "out", None if met else "goal_not_met")
    if met and cur.exit_reason is not None:
        cur.exit_reason = "goal"


def _execute(cur: _Cursor, n: AnyNode) -> None:
    profile, now = cur.facts.profile, cur.now
    visit = cur.visits.get(n.id, 1)
    if isinstance(n, WaitDuration | WaitUntil | WaitEvent):
        _wait(cur, n)
    elif isinstance(n, EntryNode):
        cur.leave("done", "out")
    elif isinstance(n, ExitNode):
        cur.steps.append(Step(n.id, "exit"))
        cur.exit_reason = "exit_node"
    elif isinstance(n, GoalNode):
        _goal(cur, n, met=evaluate(n.condition, profile, cur.facts.schema, now))
    elif isinstance(n, BranchNode):
        cur.leave("done", "yes" if evaluate(n.condition, profile, cur.facts.schema, now) else "no")
    elif isinstance(n, SplitNode):
        cur.leave("done", choose_variant(n.variants, cur.enrolment.id, n.id, visit))
    else:
        effect = _effect(n, profile, now, visit)
        if effect is None:
            cur.leave("skipped", "out", "no_change")
        else:
            cur.effects.append(effect)
            cur.leave("done", "out")


def _wait(cur: _Cursor, n: WaitDuration | WaitUntil | WaitEvent) -> None:
    until = cur.ends(n)
    if isinstance(n, WaitEvent):
        # An event counts from the moment the contact arrived, up to the timeout (one after
        # it came too late), and moves the enrolment through one wait only: a loop back to
        # this wait at the event's very moment must not take the same event again.
        taken = dict(cur.state.get("taken", {}))
        since = taken.get(n.event_type)
        matched = [
            e.occurred_at
            for e in cur.facts.events
            if e.type == n.event_type
            and cur.node_entered_at <= e.occurred_at <= min(cur.now, until)
            and (since is None or e.occurred_at > datetime.fromisoformat(since))
            and all(prop_matches(f, e.properties) for f in n.filters)
        ]
        if matched:
            cur.state["taken"] = {**taken, n.event_type: max(matched).isoformat()}
            cur.leave("done", "event")
            return
    if cur.now >= until:
        cur.leave("done", "timeout" if isinstance(n, WaitEvent) else "out")
    else:
        cur.steps.append(Step(n.id, "waiting"))
        cur.wait_until = until


def _effect(n: AnyNode, profile: Profile, now: datetime, visit: int) -> Effect | None:
    """The effect of an action node; None when it would change nothing (a tag already held,
    the stage or field already so): the step is skipped."""
    if isinstance(n, SendNode):
        return Send(n.id, n.channel, n.template_id, n.marketing, n.sender, visit)
    if isinstance(n, TagNode):
        add = tuple(t for t in n.add if str(t) not in profile.tags)
        remove = tuple(t for t in n.remove if str(t) in profile.tags and t not in n.add)
        return Tag(add, remove) if add or remove else None
    if isinstance(n, ScoreNode):
        return Score(n.model_id, n.points, n.reason)
    if isinstance(n, SetFieldNode):
        same = _field(profile.fields, n.field) == n.value
        return None if same else SetField(n.field, n.value)
    if isinstance(n, StageNode):
        return None if profile.fields.get("stage") == n.stage else Stage(n.stage)
    if isinstance(n, TaskNode):
        return Task(n.title, now + timedelta(seconds=n.due_in_s), n.assignee)
    if isinstance(n, NotifyNode):
        return Notify(n.user, n.text)
    if isinstance(n, WebhookNode):
        return Webhook(n.endpoint_id, n.payload_fields, n.id, visit)
    if isinstance(n, EnrolNode):
        return Enrol(n.journey_id)
    if isinstance(n, AssignNode):
        return Assign(n.owner_id, n.round_robin)
    raise TypeError(f"not an action: {n.kind}")


def _field(fields: Mapping[str, Any], name: str) -> Any:
    if name.startswith("custom."):
        return (fields.get("custom") or {}).get(name[7:])
    return fields.get(name)


def choose_variant(variants: Sequence[Variant], enrolment_id: int, node_id: str, visit: int) -> str:
    """The variant this enrolment takes on this visit: a stable hash over the weights, the same
    on every machine and every retry (Python's ``hash`` is salted per process)."""
    digest = hashlib.sha256(f"{enrolment_id}:{node_id}:{visit}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % sum(v.weight for v in variants)
    for v in variants:
        if point < v.weight:
            return v.key
        point -= v.weight
    raise AssertionError("point < total weight")


def next_weekday_time(
    after: datetime, weekdays: Sequence[int], at: str, timezone: ZoneInfo
) -> datetime:
    """The first of ``weekdays`` (ISO) at ``at`` ("HH:MM") in ``timezone`` strictly after
    ``after``, in UTC. Wall-clock time across DST changes; a time that does not exist that day
    (the spring-forward gap) is read with the offset before the change, so 02:30 is 03:30."""
    hour, minute = (int(part) for part in at.split(":"))
    day = after.astimezone(timezone).date()
    candidates = [
        moment
        for offset in range(8)  # today to the same weekday next week
        if (d := day + timedelta(days=offset)).isoweekday() in weekdays
        and (moment := datetime.combine(d, time(hour, minute), timezone).astimezone(UTC)) > after
    ]
    return min(candidates)


# -- running until the enrolment waits -------------------------------------------------------


def apply(profile: Profile, effects: Sequence[Effect]) -> Profile:
    """The profile as the effects leave it (tags, fields, stage), so a later branch in the same
    run sees what an earlier step did."""
    tags, fields = set(profile.tags), dict(profile.fields)
    for e in effects:
        if isinstance(e, Tag):
            tags = (tags | {str(t) for t in e.add}) - {str(t) for t in e.remove}
        elif isinstance(e, Stage):
            fields["stage"] = e.stage
        elif isinstance(e, SetField) and e.field.startswith("custom."):
            fields["custom"] = {**(fields.get("custom") or {}), e.field[7:]: e.value}
        elif isinstance(e, SetField):
            fields[e.field] = e.value
    return replace(profile, tags=frozenset(tags), fields=fields)


def advances(
    graph: Graph, enrolment: Enrolment, facts: Facts, now: datetime, max_steps: int = 50
) -> Iterator[Transition]:
    """Each step of ``run`` as its own transition (for the dry run, which shows every one)."""
    for _ in range(max_steps):
        t = advance(graph, enrolment, facts, now)
        yield t
        if t.finished or t.steps[-1].outcome == "waiting":
            return
        enrolment = after(enrolment, t)
        facts = replace(facts, profile=apply(facts.profile, t.effects))


def run(
    graph: Graph, enrolment: Enrolment, facts: Facts, now: datetime, max_steps: int = 50
) -> Transition:
    """Advance until the enrolment waits or finishes, or ``max_steps`` nodes ran (then it is
    due again now: the runner commits and comes back, so a long path never holds a claim)."""
    done = list(advances(graph, enrolment, facts, now, max_steps))
    last = done[-1]
    waiting = last.steps[-1].outcome == "waiting"
    return replace(
        last,
        wait_until=last.wait_until if waiting else None,
        effects=[e for t in done for e in t.effects],
        steps=[s for t in done for s in t.steps],
    )


# -- what should wake a waiting enrolment ----------------------------------------------------


def wake_events(graph: Graph) -> set[str]:
    """Event types some wait waits for: when one arrives, the reactor sets the contact's
    enrolments waiting there due now."""
    return {n.event_type for n in graph.nodes if isinstance(n, WaitEvent)}


def goals_touched_by(graph: Graph, types: set[str], moved: set[str]) -> bool:
    """Can events of ``types`` (and entering or leaving the segments ``moved``) make a goal of
    the graph hold? Then the reactor sets the contact's waiting enrolments due now."""
    return any(touched_by(g.condition, types, moved) for g in goals(graph))
