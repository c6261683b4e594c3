"""Carrying out what the engine's steps asked, for a whole batch of enrolments, in the runner's
transaction: messages go to the outbox (keyed by enrolment, node and visit), tags, fields,
stages and owners change through their own modules (which record their events), tasks and
notifications are written, webhooks queued, other journeys entered.

Nothing here sends or calls out: whatever leaves guanxi is a row that a dispatcher takes after
the commit, so a step rolled back leaves nothing behind and a step done twice writes once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guanxi.contact import service as contacts
from guanxi.db import in_list
from guanxi.event import service as events
from guanxi.event.records import Draft
from guanxi.journey import engine, enrolments
from guanxi.journey.versions import version_graph
from guanxi.kit.ids import new_id
from guanxi.lifecycle import moves
from guanxi.lifecycle.service import stages as stage_list
from guanxi.message import outbox
from guanxi.models import Contact, Journey, Task
from guanxi.notification import service as notifications
from guanxi.tag import holdings
from guanxi.webhook import fanout


@dataclass(frozen=True)
class Asked:
    """One effect, with the enrolment that asked for it."""

    enrolment_id: int
    contact_id: int
    journey_id: int
    effect: engine.Effect


def carry_out(session: Session, workspace_id: int, asked: Sequence[Asked], now: datetime) -> None:
    by_kind: dict[type, list[Asked]] = defaultdict(list)
    for a in asked:
        by_kind[type(a.effect)].append(a)
    drafts: list[Draft] = []
    _send(session, workspace_id, by_kind[engine.Send], now)
    drafts += _tags(session, workspace_id, by_kind[engine.Tag], now)
    drafts += _scores(workspace_id, by_kind[engine.Score], now)
    _fields(session, workspace_id, by_kind[engine.SetField], now)
    drafts += _stages(session, workspace_id, by_kind[engine.Stage], now)
    _owners(session, workspace_id, by_kind[engine.Assign], now)
    _tasks(session, workspace_id, by_kind[engine.Task], now)
    _notify(session, workspace_id, by_kind[engine.Notify], now)
    _webhooks(session, workspace_id, by_kind[engine.Webhook], now)
    drafts += _enrol(session, workspace_id, by_kind[engine.Enrol], now)
    if drafts:
        events.store(session, workspace_id, drafts, now)


def _send(session: Session, workspace_id: int, asked: list[Asked], now: datetime) -> None:
    drafts = []
    for a in asked:
        e = a.effect
        assert isinstance(e, engine.Send)
        drafts.append(
            outbox.Draft(
                key=outbox.journey_key(a.enrolment_id, e.node_id, e.visit),
                channel=e.channel,
                contact_id=a.contact_id,
                template_id=e.template_id,
                due_at=now,
                marketing=e.marketing,
                journey_id=a.journey_id,
                enrolment_id=a.enrolment_id,
                node_id=e.node_id,
            )
        )
    outbox.enqueue(session, workspace_id, drafts, now)


def _tags(session: Session, workspace_id: int, asked: list[Asked], now: datetime) -> list[Draft]:
    wanted: list[holdings.Wanted] = []
    for a in asked:
        e = a.effect
        assert isinstance(e, engine.Tag)
        wanted += [holdings.Wanted(a.contact_id, t, True) for t in e.add]
        wanted += [holdings.Wanted(a.contact_id, t, False) for t in e.remove]
    if not wanted:
        return []
    return holdings.change(session, workspace_id, wanted, source="journey", actor_id=None, now=now)


def _scores(workspace_id: int, asked: list[Asked], now: datetime) -> list[Draft]:
    """Points a step gives are an event (``score_adjusted``) that the scoring reactor counts,
    so a re-score from the events gives them again."""
    out = []
    for a in asked:
        e = a.effect
        assert isinstance(e, engine.Score)
        props: dict[str, Any] = {
            "model": str(e.model_id),
            "points": e.points,
            "journey_id": str(a.journey_id),
        }
        if e.reason:
            props["reason"] = e.reason
        out.append(Draft(a.contact_id, "score_adjusted", now, props, source="journey"))
    return out


def _rows(session: Session, workspace_id: int, ids: set[int]) -> dict[int, Contact]:
    stmt = select(Contact).where(
        Contact.workspace_id == workspace_id,
        in_list(session, Contact.id, sorted(ids)),
        Contact.status == "active",
    )
    return {c.id: c for c in session.scalars(stmt)}


def _fields(session: Session, workspace_id: int, asked: list[Asked], now: datetime) -> None:
    if not asked:
        return
    people = _rows(session, workspace_id, {a.contact_id for a in asked})
    changed: dict[int, set[str]] = defaultdict(set)
    for a in asked:
        e = a.effect
        assert isinstance(e, engine.SetField)
        contact = people.get(a.contact_id)
        if contact is None:
            continue
        if e.field.startswith("custom."):
            key = e.field[7:]
            value = {} if e.value is None else {key: e.value}
            if value:
                value = contacts.clean_custom(session, workspace_id, value, complete=False)
            values: dict[str, Any] = {"custom": value or {key: None}}
        else:
            values = {e.field: e.value}
        done = contacts.apply(contact, values, overwrite=True, now=now)
        changed[contact.id] |= set(done)
    for contact_id, names in changed.items():
        if names:
            events.profile_updated(session, workspace_id, [contact_id], names, now)


def _stages(session: Session, workspace_id: int, asked: list[Asked], now: datetime) -> list[Draft]:
    if not asked:
        return []
    people = _rows(session, workspace_id, {a.contact_id for a in asked})
    wanted: dict[int, str] = {}
    for a in asked:
        assert isinstance(a.effect, engine.Stage)
        wanted[a.contact_id] = a.effect.stage
    ladder = moves.Ladder(stage_list(session, workspace_id))
    planned = [
        moves.Move(
            contact_id=c,
            from_stage=people[c].stage,
            to_stage=stage,
            cause="journey",
            backward=ladder.backward(people[c].stage, stage),
        )
        for c, stage in sorted(wanted.items())
        if c in people and people[c].stage != stage
    ]
    _, drafts = moves.write(session, workspace_id, planned, now, source="journey")
    return drafts


def _owners(session: Session, workspace_id: int, asked: list[Asked], now: datetime) -> None:
    """To the owner named, or — taking turns over a list — to whoever of the list owns the
    fewest active contacts (counted once per batch, then kept up to date as it assigns)."""
    if not asked:
        return
    people = _rows(session, workspace_id, {a.contact_id for a in asked})
    loads: dict[int, int] = {}
    ring_members = {
        u for a in asked if isinstance(a.effect, engine.Assign) for u in a.effect.round_robin
    }
    if ring_members:
        loads = dict.fromkeys(ring_members, 0)
        loads |= dict(
            session.execute(
                select(Contact.owner_id, func.count())
                .where(
                    Contact.workspace_id == workspace_id,
                    Contact.owner_id.in_(ring_members),
                    Contact.status == "active",
                )
                .group_by(Contact.owner_id)
            ).all()  # type: ignore[arg-type]  # owner_id is not null where it is in a list
        )
    changed: list[int] = []
    for a in asked:
        e = a.effect
        assert isinstance(e, engine.Assign)
        contact = people.get(a.contact_id)
        if contact is None:
            continue
        owner = e.owner_id
        if owner is None:
            owner = min(e.round_robin, key=lambda u: (loads[u], e.round_robin.index(u)))
        if contact.owner_id != owner:
            if contact.owner_id in loads:
                loads[contact.owner_id] -= 1
            if owner in loads:
                loads[owner] += 1
            contact.owner_id, contact.updated_at = owner, now
            changed.append(contact.id)
    if changed:
        events.profile_updated(session, workspace_id, changed, ["owner_id"], now)


def _owner_of(people: dict[int, Contact], contact_id: int, who: str | int) -> int | None:
    if isinstance(who, int):
        return who
    contact = people.get(contact_id)
    return contact.owner_id if contact else None


def _tasks(session: Session, workspace_id: int, asked: list[Asked], now: datetime) -> None:
    if not asked:
        return
    people = _rows(session, workspace_id, {a.contact_id for a in asked})
    for a in asked:
        e = a.effect
        assert isinstance(e, engine.Task)
        session.add(
            Task(
                workspace_id=workspace_id,
                id=new_id(),
                contact_id=a.contact_id,
                assignee_id=_owner_of(people, a.contact_id, e.assignee),
                title=e.title,
                due_at=e.due_at,
                status="open",
                journey_id=a.journey_id,
                created_at=now,
            )
        )


def _notify(session: Session, workspace_id: int, asked: list[Asked], now: datetime) -> None:
    if not asked:
        return
    people = _rows(session, workspace_id, {a.contact_id for a in asked})
    for a in asked:
        e = a.effect
        assert isinstance(e, engine.Notify)
        user = _owner_of(people, a.contact_id, e.user)
        if user is None:
            continue
        payload = {"text": e.text, "contact_id": str(a.contact_id), "journey_id": str(a.journey_id)}
        notifications.notify(session, workspace_id, user, "journey_notice", payload, now)


def _webhooks(session: Session, workspace_id: int, asked: list[Asked], now: datetime) -> None:
    if not asked:
        return
    people = _rows(session, workspace_id, {a.contact_id for a in asked})
    for a in asked:
        e = a.effect
        assert isinstance(e, engine.Webhook)
        contact = people.get(a.contact_id)
        fields = {}
        if contact is not None:
            for name in e.payload_fields:
                if name.startswith("custom."):
                    fields[name] = (contact.custom or {}).get(name[7:])
                else:
                    fields[name] = getattr(contact, name, None)
        payload = {
            "journey_id": str(a.journey_id),
            "enrolment_id": str(a.enrolment_id),
            "node_id": e.node_id,
            "contact_id": str(a.contact_id),
            "fields": fields,
        }
        fanout.queue(
            session,
            workspace_id,
            e.endpoint_id,
            "journey.webhook",
            payload,
            key=outbox.journey_key(a.enrolment_id, e.node_id, e.visit),
        )


def _enrol(session: Session, workspace_id: int, asked: list[Asked], now: datetime) -> list[Draft]:
    wanted: dict[int, set[int]] = defaultdict(set)
    for a in asked:
        assert isinstance(a.effect, engine.Enrol)
        wanted[a.effect.journey_id].add(a.contact_id)
    drafts: list[Draft] = []
    for journey_id, ids in wanted.items():
        journey = session.get(Journey, (workspace_id, journey_id))
        if journey is None or journey.status != "active" or journey.version is None:
            continue
        graph = version_graph(session, workspace_id, journey_id, journey.version)
        done = enrolments.enrol(session, journey, graph, ids, now, source="journey")
        drafts += enrolments.entered(journey, done, now)
    return drafts
