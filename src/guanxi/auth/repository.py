"""All SQL for users, memberships, sessions and API keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from guanxi.models import ApiKey, Membership, User, UserSession, Workspace


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email))


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_membership(session: Session, workspace_id: int, user_id: int) -> Membership | None:
    return session.get(Membership, (workspace_id, user_id))


def member_rows(workspace_id: int) -> Select[User, Membership]:
    return (
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == workspace_id)
    )


def member_ids_in_departments(
    session: Session, workspace_id: int, department_ids: set[int]
) -> set[int]:
    stmt = select(Membership.user_id).where(
        Membership.workspace_id == workspace_id, Membership.department_id.in_(department_ids)
    )
    return set(session.scalars(stmt))


def workspaces_of(session: Session, user_id: int) -> Sequence[Workspace]:
    stmt = (
        select(Workspace)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == user_id, Membership.is_active.is_(True))
        .order_by(Workspace.name, Workspace.id)
    )
    return session.scalars(stmt).all()


def count_active_admins(session: Session, workspace_id: int) -> int:
    stmt = select(func.count()).where(
        Membership.workspace_id == workspace_id,
        Membership.role == "admin",
        Membership.is_active.is_(True),
    )
    return session.scalar(stmt) or 0


def session_by_digest(session: Session, digest: str) -> UserSession | None:
    return session.get(UserSession, digest)


def delete_session(session: Session, digest: str) -> None:
    session.execute(delete(UserSession).where(UserSession.token_digest == digest))


def delete_expired_sessions(session: Session, now: datetime) -> None:
    session.execute(delete(UserSession).where(UserSession.expires_at < now))


def api_key_by_prefix(session: Session, prefix: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))


def get_api_key(session: Session, workspace_id: int, key_id: int) -> ApiKey | None:
    return session.get(ApiKey, (workspace_id, key_id))


def api_key_rows(workspace_id: int) -> Select[ApiKey]:
    return select(ApiKey).where(ApiKey.workspace_id == workspace_id)


def touch_api_key(session: Session, key: ApiKey, now: datetime) -> None:
    """Record use at most once a minute, so a busy key does not write on every request."""
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() >= 60:
        session.execute(
            update(ApiKey)
            .where(ApiKey.workspace_id == key.workspace_id, ApiKey.id == key.id)
            .values(last_used_at=now)
        )
