"""Duplicate suggestions: contacts that are probably one person but share no identity (so
resolution could not merge them). Set-based SQL, one query per rule; a person decides."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, aliased

from guanxi.auth import service as auth
from guanxi.auth.principal import Principal
from guanxi.models import Contact, ContactAccount


@dataclass(frozen=True)
class Pair:
    a: Contact  # the older: kept by default
    b: Contact
    reason: str  # same_name_same_account | same_name_same_city


def suggestions(session: Session, actor: Principal, limit: int = 100) -> list[Pair]:
    """Pairs of active contacts with the same normalised name and the same account, then the
    same name and the same city; each pair once, the older contact first, both visible."""
    actor.require("contacts:read")
    ws = actor.workspace_id
    a, b = aliased(Contact), aliased(Contact)
    la, lb = aliased(ContactAccount), aliased(ContactAccount)
    base = [
        a.workspace_id == ws,
        b.workspace_id == ws,
        a.status == "active",
        b.status == "active",
        a.id < b.id,
        a.name_key.is_not(None),
        a.name_key == b.name_key,
        auth.owner_visible(session, actor, a.owner_id),  # in SQL, so the limit counts visible pairs
        auth.owner_visible(session, actor, b.owner_id),
    ]
    same_account = (
        select(a, b)
        .select_from(a)
        .join(la, and_(la.workspace_id == ws, la.contact_id == a.id))
        .join(lb, and_(lb.workspace_id == ws, lb.account_id == la.account_id))
        .join(b, and_(b.workspace_id == ws, b.id == lb.contact_id))
        .where(*base)
        .order_by(a.id, b.id)
        .limit(limit)
    )
    same_city = (
        select(a, b)
        .where(*base, a.city.is_not(None), a.city == b.city)
        .order_by(a.id, b.id)
        .limit(limit)
    )
    seen: set[tuple[int, int]] = set()
    pairs: list[Pair] = []
    for reason, stmt in (
        ("same_name_same_account", same_account),
        ("same_name_same_city", same_city),
    ):
        for first, second in session.execute(stmt).all():
            if (first.id, second.id) in seen:
                continue
            seen.add((first.id, second.id))
            pairs.append(Pair(first, second, reason))
    return pairs[:limit]
