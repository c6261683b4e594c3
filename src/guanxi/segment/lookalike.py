"""Lookalikes: the contacts outside a seed segment that most resemble its members.

What marks the seed is found by lift: a tag, a field value (city, province, country, gender,
source, stage) or a behaviour (an event type done in the last 90 days) that the seed's members
have much more often than the workspace's contacts as a whole (guanxi's own facts — a
segment entered, a score changed — are not behaviour). Each such trait weighs the log of
its lift; a contact's similarity is the weight of the traits it has over the weight of them all.
Traits are leaves of the condition language, so one SQL statement (``compile_sql``) ranks every
contact, set-based.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Float, case, cast, func, select
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.contact import service as contacts
from guanxi.event import catalogue
from guanxi.models import Contact, ContactTag, Event, SegmentMember
from guanxi.segment.conditions import EventCond, FieldCond, TagCond, Window
from guanxi.segment.manage import get
from guanxi.segment.service import schema_for
from guanxi.segment.sql import compile_sql

FIELDS = ("city", "province", "country", "gender", "source", "stage")
BEHAVIOUR_DAYS = 90
# guanxi's own facts are not behaviour (and entering the seed would mark every member)
INTERNAL = sorted(name for name, spec in catalogue.BUILTIN.items() if spec.internal)
TRAITS = 20  # the strongest traits kept
MIN_SUPPORT = 0.1  # a trait at least a tenth of the seed shares


def _traits(session: Session, ws: int, segment_id: int, now: datetime) -> list[tuple[Any, float]]:
    seed = select(SegmentMember.contact_id).where(
        SegmentMember.workspace_id == ws, SegmentMember.segment_id == segment_id
    )
    active = (Contact.workspace_id == ws, Contact.status == "active")
    n_seed = session.scalar(select(func.count()).select_from(seed.subquery())) or 0
    n_all = session.scalar(select(func.count()).select_from(Contact).where(*active)) or 0
    if not n_seed or n_all <= n_seed:
        return []
    found: list[tuple[Any, int, int]] = []  # (leaf, in seed, in all)

    def counted(key: Any, count: Any, owner: Any, *where: Any) -> list[tuple[Any, int, int]]:
        """(value of ``key``, how many seed members have it, how many contacts have it)."""
        grouped = select(key, count).where(*where)
        in_seed: dict[Any, int] = dict(
            session.execute(grouped.where(owner.in_(seed)).group_by(key)).all()
        )
        overall: dict[Any, int] = dict(
            session.execute(grouped.where(key.in_(list(in_seed))).group_by(key)).all()
        )
        return [(value, n, overall[value]) for value, n in in_seed.items()]

    tagged = counted(
        ContactTag.tag_id, func.count(), ContactTag.contact_id, ContactTag.workspace_id == ws
    )
    found += [(TagCond(tags=(str(t),)), n, total) for t, n, total in tagged]
    for name in FIELDS:
        column = getattr(Contact, name)
        valued = counted(
            column, func.count(), Contact.id, *active, column.is_not(None), column != ""
        )
        found += [(FieldCond(field=name, op="eq", value=v), n, total) for v, n, total in valued]
    recent = counted(
        Event.type,
        func.count(func.distinct(Event.contact_id)),
        Event.contact_id,
        Event.workspace_id == ws,
        Event.occurred_at >= now - timedelta(days=BEHAVIOUR_DAYS),
        Event.type.not_in(INTERNAL),
    )
    found += [
        (EventCond(type=t, window=Window(days=BEHAVIOUR_DAYS)), n, total) for t, n, total in recent
    ]

    weighed = []
    for leaf, n, total in found:
        share, base = n / n_seed, total / n_all
        if share >= MIN_SUPPORT and share > base:
            weighed.append((leaf, math.log(share / base), share))
    weighed.sort(key=lambda t: t[1] * t[2], reverse=True)
    return [(leaf, weight) for leaf, weight, _ in weighed[:TRAITS]]


def lookalike(
    session: Session, actor: Principal, segment_id: int, limit: int, now: datetime
) -> list[tuple[Contact, float]]:
    """The ``limit`` contacts outside the segment (of those the actor may see) most like its
    members, with their similarity from 0 to 1, most similar first."""
    actor.require("contacts:read")
    segment = get(session, actor, segment_id)
    ws = actor.workspace_id
    traits = _traits(session, ws, segment.id, now)
    if not traits:
        return []
    schema = schema_for(session, ws)
    dialect = session.get_bind().dialect.name
    total = sum(w for _, w in traits)
    score = sum(
        (
            cast(case((compile_sql(leaf, schema, ws, now, dialect), w), else_=0.0), Float)
            for leaf, w in traits
        ),
        start=cast(0.0, Float),
    ).label("score")
    members = select(SegmentMember.contact_id).where(
        SegmentMember.workspace_id == ws, SegmentMember.segment_id == segment.id
    )
    ranked = (
        select(Contact, score)
        .where(
            Contact.workspace_id == ws,
            Contact.status == "active",
            Contact.id.not_in(members),
            contacts.visible(session, actor),
        )
        .order_by(score.desc(), Contact.id)
        .limit(limit)
    )
    return [(c, round(s / total, 4)) for c, s in session.execute(ranked).all() if s > 0]
