"""Loading what conditions look at, for a batch of contacts at once: the in-memory evaluator's
input (tag rules, fit scores, lifecycle entry rules, incremental segment membership).

Only what the trees name is read — events of the types they count, within the widest window
they look back over; tags, scores or memberships only if a tree asks — with one query per kind
of data for the whole batch, never one per contact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from guanxi.db import in_list
from guanxi.models import (
    Account,
    Contact,
    ContactAccount,
    ContactScore,
    ContactTag,
    Event,
    ScorePoint,
    SegmentMember,
)
from guanxi.scoring import decay
from guanxi.segment.conditions import (
    ACCOUNT_FIELDS,
    CONTACT_FIELDS,
    AccountCond,
    EventCond,
    EventFact,
    EventTimeCond,
    FieldCond,
    GradeCond,
    Profile,
    Schema,
    ScoreCond,
    SegmentCond,
    TagCond,
    touched_by,
    walk,
)

FIELD_NAMES = ("id", *CONTACT_FIELDS, "custom")
K = TypeVar("K")


def fields_of(row: Any) -> dict[str, Any]:
    """A contact's fields as conditions see them, from a row of ``FIELD_NAMES``."""
    values = dict(zip(FIELD_NAMES, row, strict=True))
    values["custom"] = values["custom"] or {}
    return values


def account_fields(account: Account) -> dict[str, Any]:
    values = {name: getattr(account, name) for name in ACCOUNT_FIELDS}
    values["custom"] = account.custom or {}
    return values


def _event_reach(nodes: Sequence[Any], now: datetime) -> tuple[set[str], datetime | None, bool]:
    """The event types the trees count, how far back they look (``None``: all time), and
    whether any does."""
    types: set[str] = set()
    since: datetime | None = now
    for node in nodes:
        if isinstance(node, EventTimeCond):
            types.add(node.type)
            since = None
        elif isinstance(node, EventCond):
            types.add(node.type)
            lower, _, _ = node.window.bounds(now)
            since = None if lower is None or since is None else min(since, lower)
    return types, since, bool(types)


MADE_NOW = "guanxi.made_now"  # session.info: (workspace, now) → {contact: made now?}


def made_now(
    session: Session, workspace_id: int, contact_ids: Iterable[int], now: datetime
) -> set[int]:
    """The contacts this very request made (``created_at`` is its ``now``): someone new may
    match any condition ("never ordered"), whatever their events were. Remembered for the
    transaction: every reactor of every round asks about the same contacts."""
    known: dict[int, bool] = session.info.setdefault(MADE_NOW, {}).setdefault(
        (workspace_id, now), {}
    )
    ask = sorted(set(contact_ids) - set(known))
    if ask:
        new = set(
            session.scalars(
                select(Contact.id).where(
                    Contact.workspace_id == workspace_id,
                    in_list(session, Contact.id, ask),
                    Contact.created_at >= now,
                )
            )
        )
        known.update((c, c in new) for c in ask)
    return {c for c in contact_ids if known[c]}


def reads_fields(trees: Iterable[Any]) -> bool:
    """Does any tree look at the contact's own fields (else a profile needs only the id)?"""
    return any(isinstance(n, FieldCond) for tree in trees for n in walk(tree))


def signals(events: Iterable[Any]) -> tuple[set[str], set[str]]:
    """A batch's event types, and the segments its contacts entered or left."""
    batch = list(events)
    moved = {
        str(e.properties["segment_id"])
        for e in batch
        if e.type in ("segment_entered", "segment_exited") and "segment_id" in e.properties
    }
    return {e.type for e in batch}, moved


def touching(events: Iterable[Any], trees: Mapping[K, Any]) -> dict[K, set[int]]:
    """Key → the contacts whose own events can change that tree's answer — by their types, or
    by naming a segment the contact just entered or left (``conditions.touched_by``)."""
    by_contact: dict[int, list[Any]] = defaultdict(list)
    for event in events:
        by_contact[event.contact_id].append(event)
    hit: dict[tuple[frozenset[str], frozenset[str]], list[K]] = {}
    found: dict[K, set[int]] = defaultdict(set)
    for contact_id, own in by_contact.items():
        types, moved = signals(own)
        signal = (frozenset(types), frozenset(moved))
        if signal not in hit:  # most contacts share a handful of signals
            hit[signal] = [k for k, tree in trees.items() if touched_by(tree, *signal)]
        for k in hit[signal]:
            found[k].add(contact_id)
    return found


def asked(
    session: Session, workspace_id: int, events: Sequence[Any], trees: Sequence[Any], now: datetime
) -> set[int]:
    """The batch's contacts to re-check against ``trees``: those whose own events can change
    one's answer, and whoever this request made (someone new may match any condition)."""
    contacts = {e.contact_id for e in events}
    return set().union(*touching(events, dict(enumerate(trees))).values()) | made_now(
        session, workspace_id, contacts, now
    )


def load(
    session: Session,
    workspace_id: int,
    contact_ids: Iterable[int],
    trees: Sequence[Any],
    schema: Schema,
    now: datetime,
    *,
    fields: bool = True,
) -> dict[int, Profile]:
    """Profiles of the active contacts among ``contact_ids``, with what ``trees`` need (and
    the contacts' fields unless ``fields`` is off: then a profile's fields are its id)."""
    ws = workspace_id
    ids = sorted(set(contact_ids))
    nodes = [n for tree in trees for n in walk(tree)]
    if not ids:
        return {}
    # plain rows, not ORM objects: a batch loads a thousand contacts for every reactor
    columns = [getattr(Contact, name) for name in FIELD_NAMES] if fields else [Contact.id]
    contacts = session.execute(
        select(*columns).where(
            Contact.workspace_id == ws,
            in_list(session, Contact.id, ids),
            Contact.status == "active",
        )
    ).all()
    ids = [c.id for c in contacts]

    accounts: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if any(isinstance(n, AccountCond) for n in nodes):
        rows = session.execute(
            select(ContactAccount.contact_id, Account)
            .join(
                Account,
                (Account.workspace_id == ContactAccount.workspace_id)
                & (Account.id == ContactAccount.account_id),
            )
            .where(
                ContactAccount.workspace_id == ws, in_list(session, ContactAccount.contact_id, ids)
            )
        ).all()
        for contact_id, account in rows:
            accounts[contact_id].append(account_fields(account))

    events: dict[int, list[EventFact]] = defaultdict(list)
    types, since, any_events = _event_reach(nodes, now)
    if any_events:
        # properties only if a tree filters or sums by them: decoding every page view's URL,
        # title and UTM tags is most of this query's cost
        props = any(
            isinstance(n, EventCond | EventTimeCond)
            and (n.where or getattr(n, "measure", "count") == "sum")
            for n in nodes
        )
        stmt = select(
            Event.contact_id,
            Event.type,
            Event.occurred_at,
            Event.properties if props else literal(None),
        ).where(
            Event.workspace_id == ws,
            in_list(session, Event.contact_id, ids),
            Event.type.in_(sorted(types)),
        )
        if since is not None:
            stmt = stmt.where(Event.occurred_at >= since)
        for contact_id, type_, at, props in session.execute(stmt):
            events[contact_id].append(EventFact(type_, at, props or {}))

    tags: dict[int, set[str]] = defaultdict(set)
    if any(isinstance(n, TagCond) for n in nodes):
        for contact_id, tag_id in session.execute(
            select(ContactTag.contact_id, ContactTag.tag_id).where(
                ContactTag.workspace_id == ws, in_list(session, ContactTag.contact_id, ids)
            )
        ):
            tags[contact_id].add(str(tag_id))

    members: dict[int, set[str]] = defaultdict(set)
    if any(isinstance(n, SegmentCond) for n in nodes):
        for contact_id, segment_id in session.execute(
            select(SegmentMember.contact_id, SegmentMember.segment_id).where(
                SegmentMember.workspace_id == ws, in_list(session, SegmentMember.contact_id, ids)
            )
        ):
            members[contact_id].add(str(segment_id))

    scores = (
        load_scores(session, ws, ids, schema, now)
        if any(isinstance(n, ScoreCond | GradeCond) for n in nodes)
        else {}
    )
    return {
        c.id: Profile(
            fields_of(c) if fields else {"id": c.id},
            accounts.get(c.id, []),
            events.get(c.id, []),
            tags=frozenset(tags.get(c.id, ())),
            scores=scores.get(c.id, {}),
            segments=frozenset(members.get(c.id, ())),
        )
        for c in contacts
    }


def load_scores(
    session: Session, workspace_id: int, ids: Sequence[int], schema: Schema, now: datetime
) -> dict[int, dict[str, decay.ScoreFact]]:
    """Every points model's stored numbers for these contacts, with a linear model's points
    still inside its window."""
    ws = workspace_id
    linear = {m: s for m, s in schema.score_models.items() if s.decay == "linear"}
    points: dict[tuple[int, str], list[tuple[datetime, float]]] = defaultdict(list)
    if linear:
        widest = max(s.days or 1 for s in linear.values())
        for contact_id, model_id, at, value in session.execute(
            select(
                ScorePoint.contact_id, ScorePoint.model_id, ScorePoint.earned_at, ScorePoint.points
            ).where(
                ScorePoint.workspace_id == ws,
                in_list(session, ScorePoint.contact_id, ids),
                ScorePoint.model_id.in_([int(m) for m in linear]),
                ScorePoint.earned_at > now - timedelta(days=widest),
            )
        ):
            points[contact_id, str(model_id)].append((at, value))
    facts: dict[int, dict[str, decay.ScoreFact]] = defaultdict(dict)
    for contact_id, model_id, engagement, fit in session.execute(
        select(
            ContactScore.contact_id,
            ContactScore.model_id,
            ContactScore.engagement,
            ContactScore.fit,
        ).where(
            ContactScore.workspace_id == ws,
            # the models named: the key (workspace, model, contact) then finds each contact
            ContactScore.model_id.in_(sorted(int(m) for m in schema.score_models)),
            in_list(session, ContactScore.contact_id, ids),
        )
    ):
        model = str(model_id)
        facts[contact_id][model] = decay.ScoreFact(
            engagement, fit, tuple(points.get((contact_id, model), ()))
        )
    return facts
