"""Journeys: drafts a marketer edits freely, versions frozen by publishing, running enrolments
that stay on their version unless a mapping moves them, pause and resume, manual enrolment.

Publishing checks the whole graph (``graph.validate``), then what it names against the
workspace: the conditions of branches and goals, the segments, tags, templates, score models,
forms, journeys and members it refers to, and that every send has a channel account.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.contact import fields as custom_fields
from guanxi.contact import service as contacts
from guanxi.errors import Conflict, NotFound
from guanxi.event import service as events
from guanxi.i18n import N_, Message
from guanxi.journey import checks, enrolments, schedule
from guanxi.journey import graph as g
from guanxi.lifecycle import service as lifecycle
from guanxi.message.gate import zone
from guanxi.models import (
    ChannelAccount,
    Form,
    Journey,
    JourneyEnrolment,
    JourneyVersion,
    Membership,
    MessageTemplate,
    ScoreModel,
    Segment,
    Tag,
    WebhookEndpoint,
    Workspace,
)
from guanxi.segment.conditions import CONTACT_FIELDS
from guanxi.segment.service import InvalidCondition, checked

BLANK: dict[str, Any] = {
    "nodes": [{"id": "start", "kind": "entry", "trigger": {"type": "manual"}, "x": 80, "y": 80}],
    "edges": [],
}


class JourneyNotActive(Conflict):
    code = "journey_not_active"
    message = N_("The journey is not running: publish it or resume it first.")


class JourneyArchived(Conflict):
    code = "journey_archived"
    message = N_("The journey is archived and cannot change.")


class JourneyPublished(Conflict):
    code = "journey_published"
    message = N_("A journey that was published is archived, not deleted.")


class BadMapping(Conflict):
    code = "invalid_mapping"
    message = N_("Version {version} has no node {node}, or the new version has no node {target}.")


def get(session: Session, actor: Principal, journey_id: int, *, write: bool = False) -> Journey:
    actor.require("journeys:write" if write else "journeys:read")
    row = session.get(Journey, (actor.workspace_id, journey_id))
    if row is None:
        raise NotFound(resource=N_("Journey"))
    if write and row.status == "archived":
        raise JourneyArchived()
    return row


def listed(session: Session, actor: Principal, status: str | None = None) -> Sequence[Journey]:
    actor.require("journeys:read")
    stmt = select(Journey).where(Journey.workspace_id == actor.workspace_id)
    if status:
        stmt = stmt.where(Journey.status == status)
    return session.scalars(stmt.order_by(Journey.updated_at.desc(), Journey.id)).all()


def parse(draft: Mapping[str, Any]) -> g.Graph:
    return g.Graph.model_validate(draft)


def create(
    session: Session,
    actor: Principal,
    name: str,
    description: str | None,
    draft: Mapping[str, Any] | None,
    now: datetime,
) -> Journey:
    actor.require("journeys:write")
    graph = parse(draft if draft is not None else BLANK)
    row = Journey(
        workspace_id=actor.workspace_id,
        name=name,
        description=description,
        status="draft",
        draft=graph.model_dump(mode="json", exclude_none=True),
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def update_draft(
    session: Session,
    actor: Principal,
    journey_id: int,
    now: datetime,
    *,
    name: str | None = None,
    description: str | None = None,
    draft: Mapping[str, Any] | None = None,
) -> Journey:
    row = get(session, actor, journey_id, write=True)
    if name is not None:
        row.name = name
    if description is not None:
        row.description = description or None
    if draft is not None:
        row.draft = parse(draft).model_dump(mode="json", exclude_none=True)
    row.updated_at = now
    session.flush()
    return row


def graph_of(session: Session, workspace_id: int, journey_id: int, version: int) -> g.Graph:
    row = session.get(JourneyVersion, (workspace_id, journey_id, version))
    if row is None:
        raise NotFound(resource=N_("Journey version"))
    return parse(row.graph)


def _missing(session: Session, workspace_id: int, model: Any, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    key = model.user_id if model is Membership else model.id
    found = set(
        session.scalars(select(key).where(model.workspace_id == workspace_id, key.in_(ids)))
    )
    return ids - found


def problems(session: Session, workspace_id: int, graph: g.Graph) -> list[checks.Problem]:
    """Everything that keeps ``graph`` from being published in this workspace."""
    found = checks.validate(graph)
    for node_id, tree in g.conditions_of(graph):
        try:
            checked(session, workspace_id, tree)
        except InvalidCondition as exc:
            found.append(
                checks.Problem("invalid_condition", node_id, Message(exc.text, **exc.params))
            )
    refs = g.referenced_ids(graph)
    models = {
        "segments": (Segment, N_("Segment")),
        "tags": (Tag, N_("Tag")),
        "templates": (MessageTemplate, N_("Template")),
        "journeys": (Journey, N_("Journey")),
        "forms": (Form, N_("Form")),
        "score_models": (ScoreModel, N_("Scoring model")),
        "users": (Membership, N_("Member")),
        "webhooks": (WebhookEndpoint, N_("Webhook")),
    }
    for kind, ids in refs.items():
        model, label = models[kind]
        for missing in sorted(_missing(session, workspace_id, model, ids)):
            found.append(
                checks.Problem(
                    "unknown_reference",
                    None,
                    Message(N_("{what} {id} does not exist."), what=Message(label), id=missing),
                )
            )
    found += _field_problems(session, workspace_id, graph)
    channels = {n.channel for n in graph.nodes if isinstance(n, g.SendNode)}
    have = set(
        session.scalars(
            select(ChannelAccount.channel).where(
                ChannelAccount.workspace_id == workspace_id,
                ChannelAccount.enabled.is_(True),
                ChannelAccount.channel.in_(channels or {""}),
            )
        )
    )
    for n in graph.nodes:
        if isinstance(n, g.SendNode) and n.channel not in have:
            found.append(
                checks.Problem(
                    "no_channel_account",
                    n.id,
                    Message(N_("No channel account sends {channel} yet."), channel=n.channel),
                )
            )
    return found


WRITABLE = set(CONTACT_FIELDS) - {"email", "phone", "stage"}


def _field_problems(session: Session, workspace_id: int, graph: g.Graph) -> list[checks.Problem]:
    """Stages the graph names must be the workspace's; a field a step sets must be one a
    journey may write (not an identity, not the stage); an anniversary reads a date field."""
    keys = {s.key for s in lifecycle.peek(session, workspace_id)}
    custom = custom_fields.definitions(session, workspace_id, "contact")
    found: list[checks.Problem] = []
    combined = set(
        session.scalars(
            select(ScoreModel.id).where(
                ScoreModel.workspace_id == workspace_id, ScoreModel.kind == "combined"
            )
        )
    )
    for n in graph.nodes:
        if isinstance(n, g.ScoreNode) and n.model_id in combined:
            found.append(
                checks.Problem(
                    "combined_model",
                    n.id,
                    Message(
                        N_("A combined model adds up other models: give points to one of them.")
                    ),
                )
            )
        named: str | None = None
        if isinstance(n, g.StageNode):
            named = n.stage
        elif isinstance(n, g.EntryNode) and isinstance(n.trigger, g.StageChanged):
            named = n.trigger.stage
        if named is not None and named not in keys:
            found.append(
                checks.Problem(
                    "unknown_stage", n.id, Message(N_("There is no stage {stage}."), stage=named)
                )
            )
        if isinstance(n, g.SetFieldNode):
            key = n.field.removeprefix("custom.")
            ok = key in custom if n.field.startswith("custom.") else n.field in WRITABLE
            if not ok:
                found.append(
                    checks.Problem(
                        "unwritable_field",
                        n.id,
                        Message(N_("A journey cannot set the field {field}."), field=n.field),
                    )
                )
        if isinstance(n, g.EntryNode) and isinstance(n.trigger, g.Anniversary):
            key = n.trigger.field.removeprefix("custom.")
            if key not in custom or custom[key].type != "date":
                found.append(
                    checks.Problem(
                        "not_a_date_field",
                        n.id,
                        Message(N_("{field} is not a custom date field."), field=n.trigger.field),
                    )
                )
    return found


def running_by_node(
    session: Session, workspace_id: int, journey_id: int
) -> dict[tuple[int, str], int]:
    rows = session.execute(
        select(JourneyEnrolment.version, JourneyEnrolment.node_id, func.count())
        .where(
            JourneyEnrolment.workspace_id == workspace_id,
            JourneyEnrolment.journey_id == journey_id,
            JourneyEnrolment.status == "active",
        )
        .group_by(JourneyEnrolment.version, JourneyEnrolment.node_id)
    ).all()
    return {(v, n): c for v, n, c in rows}


def impact(
    session: Session, actor: Principal, journey_id: int, mapping: Mapping[str, Mapping[str, str]]
) -> list[dict[str, Any]]:
    """Before a publish: the running contacts per (version, node) and where the mapping sends
    them (``None``: they stay on their version)."""
    row = get(session, actor, journey_id)
    new = parse(row.draft)
    out = []
    for (version, node_id), count in sorted(
        running_by_node(session, row.workspace_id, row.id).items()
    ):
        target = mapping.get(str(version), {}).get(node_id)
        out.append(
            {
                "version": version,
                "node": node_id,
                "contacts": count,
                "moves_to": target if target in new.by_id else None,
            }
        )
    return out


def publish(
    session: Session,
    actor: Principal,
    journey_id: int,
    now: datetime,
    mapping: Mapping[str, Mapping[str, str]] | None = None,
) -> Journey:
    """Freeze the draft as the next version; new enrolments start on it. Running enrolments
    stay on their version, except those ``mapping`` ({old version: {old node: new node}})
    moves — they continue on the new version from the mapped node."""
    row = get(session, actor, journey_id, write=True)
    graph = parse(row.draft)
    found = problems(session, row.workspace_id, graph)
    if found:
        raise checks.InvalidJourney(found)
    version = (row.version or 0) + 1
    for old, nodes in (mapping or {}).items():
        try:
            old_version = int(old)
        except ValueError:
            raise BadMapping(version=old, node="", target="") from None
        before = graph_of(session, row.workspace_id, row.id, old_version)
        for source, target in nodes.items():
            if source not in before.by_id or target not in graph.by_id:
                raise BadMapping(version=old, node=source, target=target)
    session.add(
        JourneyVersion(
            workspace_id=row.workspace_id,
            journey_id=row.id,
            version=version,
            graph=graph.model_dump(mode="json", exclude_none=True),
            published_by=actor.user_id,
            published_at=now,
        )
    )
    entry = g.entry_of(graph)
    row.version = version
    row.trigger = entry.trigger.model_dump(mode="json") if entry else None
    workspace = session.get(Workspace, row.workspace_id)
    tz = zone(None, workspace.timezone if workspace else "Asia/Shanghai")
    row.next_run_at = schedule.next_run(entry.trigger, tz, now, first=True) if entry else None
    row.status = "paused" if row.status == "paused" else "active"
    row.updated_at = now
    session.flush()
    for old, nodes in (mapping or {}).items():
        for source, target in nodes.items():
            moved = session.scalars(
                select(JourneyEnrolment).where(
                    JourneyEnrolment.workspace_id == row.workspace_id,
                    JourneyEnrolment.journey_id == row.id,
                    JourneyEnrolment.version == int(old),
                    JourneyEnrolment.node_id == source,
                    JourneyEnrolment.status == "active",
                )
            )
            for enrolment in moved:
                # the goals it reached and the events it took stay taken: only the wait ends
                state = {k: v for k, v in (enrolment.state or {}).items() if k != "wait_until"}
                enrolment.version, enrolment.node_id, enrolment.state = version, target, state
                enrolment.node_entered_at = enrolment.due_at = now
    session.flush()
    return row


def set_status(
    session: Session, actor: Principal, journey_id: int, status: str, now: datetime
) -> Journey:
    """Pause (waits keep their due times; nothing runs until resumed, and waits that fell due
    meanwhile run at once on resume), resume, or archive (running enrolments end, reason
    ``archived``)."""
    row = get(session, actor, journey_id, write=True)
    if status in ("active", "paused") and row.version is None:
        raise JourneyNotActive()
    row.status, row.updated_at = status, now
    row.paused_at = now if status == "paused" else None
    if status == "archived":
        session.execute(
            update(JourneyEnrolment)
            .where(
                JourneyEnrolment.workspace_id == row.workspace_id,
                JourneyEnrolment.journey_id == row.id,
                JourneyEnrolment.status == "active",
            )
            .values(status="done", due_at=None, finished_at=now, exit_reason="archived")
        )
    session.flush()
    return row


def enrol(
    session: Session, actor: Principal, journey_id: int, contact_ids: Sequence[int], now: datetime
) -> list[int]:
    """Manual/API enrolment of contacts the actor may see; the re-entry policy holds."""
    row = get(session, actor, journey_id, write=True)
    if row.status != "active" or row.version is None:
        raise JourneyNotActive()
    for contact_id in contact_ids:
        contacts.get(session, actor, contact_id)
    graph = graph_of(session, row.workspace_id, row.id, row.version)
    done = enrolments.enrol(session, row, graph, contact_ids, now, source="api")
    events.store(session, row.workspace_id, enrolments.entered(row, done, now), now)
    return done


def delete(session: Session, actor: Principal, journey_id: int) -> None:
    row = get(session, actor, journey_id, write=True)
    if row.version is not None:
        raise JourneyPublished()
    session.delete(row)
    session.flush()
