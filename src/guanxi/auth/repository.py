"""All SQL for logins, sessions and API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, delete, select, update
from sqlalchemy.orm import Session

from guanxi.models import ApiKey, User, UserSession


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email))


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def session_by_digest(session: Session, digest: str) -> UserSession | None:
    return session.get(UserSession, digest)


def delete_session(session: Session, digest: str) -> None:
    session.execute(delete(UserSession).where(UserSession.token_digest == digest))


def delete_sessions_of(session: Session, user_id: int, keep: str | None) -> None:
    stmt = delete(UserSession).where(UserSession.user_id == user_id)
    if keep is not None:
        stmt = stmt.where(UserSession.token_digest != keep)
    session.execute(stmt)


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
