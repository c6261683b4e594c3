"""What a journey did (J5): per-node counts from the step log, the enrolments and the outbox —
entered, waiting, done, failed, skipped with the reason, messages sent/opened/clicked — goal
conversion, and each split's variants with their conversions; and the dry run of one contact
through a graph on a simulated clock.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.contact import service as contacts
from guanxi.journey import checks, service
from guanxi.journey import graph as g
from guanxi.journey.schemas import DryRunIn, DryStepOut, NodeStats, StatsOut, VariantStats
from guanxi.journey.simulate import simulate
from guanxi.message.gate import zone
from guanxi.models import JourneyEnrolment, JourneyStep, Message, Workspace
from guanxi.segment import profiles
from guanxi.segment.conditions import EventFact
from guanxi.segment.service import schema_for


def stats(session: Session, actor: Principal, journey_id: int, now: datetime) -> StatsOut:
    journey = service.get(session, actor, journey_id)
    ws = journey.workspace_id
    graph = (
        service.graph_of(session, ws, journey.id, journey.version)
        if journey.version
        else service.parse(journey.draft)
    )
    enrolment = (JourneyEnrolment.workspace_id == ws) & (JourneyEnrolment.journey_id == journey.id)
    totals: dict[str, int] = dict(
        session.execute(
            select(JourneyEnrolment.status, func.count())
            .where(enrolment)
            .group_by(JourneyEnrolment.status)
        ).all()
    )
    step = (JourneyStep.workspace_id == ws) & (JourneyStep.journey_id == journey.id)
    converted = (
        session.scalar(
            select(func.count(func.distinct(JourneyStep.enrolment_id))).where(
                step, JourneyStep.outcome == "goal"
            )
        )
        or 0
    )
    entered = dict(
        session.execute(
            select(JourneyStep.node_id, func.count(func.distinct(JourneyStep.enrolment_id)))
            .where(step)
            .group_by(JourneyStep.node_id)
        ).all()
    )
    outcomes: dict[tuple[str, str], int] = {
        (n, o): c
        for n, o, c in session.execute(
            select(JourneyStep.node_id, JourneyStep.outcome, func.count())
            .where(step)
            .group_by(JourneyStep.node_id, JourneyStep.outcome)
        )
    }
    skipped: dict[str, dict[str, int]] = defaultdict(dict)
    for n, reason, c in session.execute(
        select(JourneyStep.node_id, JourneyStep.reason, func.count())
        .where(step, JourneyStep.outcome == "skipped")
        .group_by(JourneyStep.node_id, JourneyStep.reason)
    ):
        skipped[n][reason or "skipped"] = c
    at_node = {
        (n, s): c
        for n, s, c in session.execute(
            select(JourneyEnrolment.node_id, JourneyEnrolment.status, func.count())
            .where(enrolment)
            .group_by(JourneyEnrolment.node_id, JourneyEnrolment.status)
        )
    }
    messages: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for node_id, status, reason, opened, clicked, c in session.execute(
        select(
            Message.node_id,
            Message.status,
            Message.reason,
            func.count(Message.opened_at),
            func.count(Message.clicked_at),
            func.count(),
        )
        .where(Message.workspace_id == ws, Message.journey_id == journey.id)
        .group_by(Message.node_id, Message.status, Message.reason)
    ):
        n = node_id or ""
        node_messages = messages[n]
        node_messages[status] += c
        node_messages["opened"] += opened
        node_messages["clicked"] += clicked
        if status == "skipped":
            skipped[n][reason or "skipped"] = skipped[n].get(reason or "skipped", 0) + c
    nodes = [
        NodeStats(
            node=n.id,
            kind=n.kind,
            entered=entered.get(n.id, 0),
            waiting=at_node.get((n.id, "active"), 0),
            done=outcomes.get((n.id, "done"), 0) + outcomes.get((n.id, "goal"), 0),
            failed=at_node.get((n.id, "failed"), 0),
            skipped=dict(skipped.get(n.id, {})),
            messages=dict(messages.get(n.id, {})),
        )
        for n in graph.nodes
    ]
    enrolled = sum(totals.values())
    return StatsOut(
        enrolled=enrolled,
        running=totals.get("active", 0),
        finished=totals.get("done", 0),
        converted=converted,
        conversion=round(converted / enrolled, 4) if enrolled else 0.0,
        nodes=nodes,
        variants=_variants(session, ws, journey.id, graph),
    )


def _variants(session: Session, ws: int, journey_id: int, graph: g.Graph) -> list[VariantStats]:
    splits = [n for n in graph.nodes if isinstance(n, g.SplitNode)]
    if not splits:
        return []
    goal = (
        select(JourneyStep.enrolment_id)
        .where(
            JourneyStep.workspace_id == ws,
            JourneyStep.journey_id == journey_id,
            JourneyStep.outcome == "goal",
        )
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            JourneyStep.node_id,
            JourneyStep.port,
            func.count(func.distinct(JourneyStep.enrolment_id)),
            func.count(func.distinct(JourneyStep.enrolment_id)).filter(
                JourneyStep.enrolment_id.in_(goal)
            ),
        )
        .where(
            and_(
                JourneyStep.workspace_id == ws,
                JourneyStep.journey_id == journey_id,
                JourneyStep.node_id.in_([n.id for n in splits]),
                JourneyStep.outcome == "done",
            )
        )
        .group_by(JourneyStep.node_id, JourneyStep.port)
    ).all()
    found = {(n, p): (c, k) for n, p, c, k in rows}
    return [
        VariantStats(
            node=n.id,
            variant=v.key,
            contacts=found.get((n.id, v.key), (0, 0))[0],
            converted=found.get((n.id, v.key), (0, 0))[1],
        )
        for n in splits
        for v in n.variants
    ]


def _effect(effect: Any) -> dict[str, Any]:
    out = {"kind": type(effect).__name__.lower()}
    for key, value in asdict(effect).items():
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    return out


def dry_run(
    session: Session, actor: Principal, journey_id: int, data: DryRunIn, now: datetime
) -> list[DryStepOut]:
    """The steps the contact would take, with what each would do — nothing is written."""
    journey = service.get(session, actor, journey_id)
    contact = contacts.get(session, actor, data.contact_id)
    if data.source == "published" and journey.version:
        graph = service.graph_of(session, journey.workspace_id, journey.id, journey.version)
    else:
        graph = service.parse(journey.draft)
    problems = service.problems(session, journey.workspace_id, graph)
    if problems:
        raise checks.InvalidJourney(problems)
    schema = schema_for(session, journey.workspace_id)
    start = data.start or now
    trees = [tree for _, tree in g.conditions_of(graph)]
    profile = profiles.load(session, journey.workspace_id, [contact.id], trees, schema, start)[
        contact.id
    ]
    workspace = session.get(Workspace, journey.workspace_id)
    tz = zone(contact.timezone, workspace.timezone if workspace else "Asia/Shanghai")
    future = [EventFact(e.type, e.at, e.properties) for e in data.events]
    steps = simulate(graph, profile, schema, tz, start, future, start + timedelta(days=data.days))
    return [
        DryStepOut(
            at=s.at,
            node=s.node_id,
            outcome=s.outcome,
            port=s.port,
            reason=s.reason,
            effects=[_effect(e) for e in s.effects],
        )
        for s in steps
    ]
