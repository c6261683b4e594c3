"""Notifications: written by any module for a member, read and marked by that member."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.errors import NotFound
from guanxi.i18n import N_
from guanxi.models import Notification


def notify(
    session: Session,
    workspace_id: int,
    user_id: int,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
) -> Notification:
    note = Notification(
        workspace_id=workspace_id, user_id=user_id, kind=kind, payload=payload, created_at=now
    )
    session.add(note)
    session.flush()
    return note


def mine(
    session: Session, actor: Principal, *, unread_only: bool, limit: int
) -> Sequence[Notification]:
    stmt = select(Notification).where(
        Notification.workspace_id == actor.workspace_id, Notification.user_id == actor.user_id
    )
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return session.scalars(
        stmt.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    ).all()


def unread_count(session: Session, actor: Principal) -> int:
    stmt = select(func.count()).where(
        Notification.workspace_id == actor.workspace_id,
        Notification.user_id == actor.user_id,
        Notification.read_at.is_(None),
    )
    return int(session.scalar(stmt) or 0)


def mark_read(
    session: Session, actor: Principal, notification_id: int | None, now: datetime
) -> None:
    """One notification (or, with None, all of one's own) read."""
    stmt = update(Notification).where(
        Notification.workspace_id == actor.workspace_id,
        Notification.user_id == actor.user_id,
        Notification.read_at.is_(None),
    )
    if notification_id is not None:
        note = session.get(Notification, (actor.workspace_id, notification_id))
        if note is None or note.user_id != actor.user_id:
            raise NotFound(resource=N_("Notification"))
        stmt = stmt.where(Notification.id == notification_id)
    session.execute(stmt.values(read_at=now))
