"""Collisions (撞单): a member writes to a contact or account that someone else owns. The write
goes ahead (their data scope allows it); the collision is recorded and the owner told, at most
once an hour per record and member, so a bulk edit does not flood the owner."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.models import Collision
from guanxi.notification import service as notifications

QUIET = timedelta(hours=1)


def touched(
    session: Session,
    actor: Principal,
    obj: str,
    object_id: int,
    owner_id: int | None,
    name: str | None,
    action: str,
    now: datetime,
) -> None:
    if owner_id is None or owner_id == actor.user_id:
        return
    recent = session.scalar(
        select(Collision.id)
        .where(
            Collision.workspace_id == actor.workspace_id,
            Collision.object == obj,
            Collision.object_id == object_id,
            Collision.actor_id == actor.user_id,
            Collision.created_at > now - QUIET,
        )
        .limit(1)
    )
    if recent is not None:
        return
    session.add(
        Collision(
            workspace_id=actor.workspace_id,
            object=obj,
            object_id=object_id,
            owner_id=owner_id,
            actor_id=actor.user_id,
            action=action,
            created_at=now,
        )
    )
    payload = {
        "object": obj,
        "object_id": str(object_id),
        "name": name or "",
        "actor_id": str(actor.user_id),
        "action": action,
    }
    notifications.notify(session, actor.workspace_id, owner_id, "collision", payload, now)
    session.flush()


def list_collisions(session: Session, actor: Principal, limit: int) -> Sequence[Collision]:
    """Collisions on one's own records; a data scope of all sees the workspace's."""
    actor.require("contacts:read")
    stmt = select(Collision).where(Collision.workspace_id == actor.workspace_id)
    if actor.data_scope.value != "all":
        stmt = stmt.where(Collision.owner_id == actor.user_id)
    return session.scalars(
        stmt.order_by(Collision.created_at.desc(), Collision.id.desc()).limit(limit)
    ).all()
