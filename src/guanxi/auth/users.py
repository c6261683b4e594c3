"""Logins: the people who can sign in, whatever workspaces they belong to."""

from __future__ import annotations

from sqlalchemy.orm import Session

from guanxi.auth import repository as repo
from guanxi.errors import InvalidCredentials, NotFound
from guanxi.i18n import N_
from guanxi.kit.secrets import hash_password, verify_password
from guanxi.models import User


def by_email(session: Session, email: str) -> User | None:
    return repo.user_by_email(session, email.strip().lower())


def get(session: Session, user_id: int) -> User:
    user = repo.get_user(session, user_id)
    if user is None:
        raise NotFound(resource=N_("Member"))
    return user


def create(
    session: Session, *, email: str, name: str, password: str, language: str | None = None
) -> User:
    user = User(
        email=email.strip().lower(),
        name=name,
        password_hash=hash_password(password),
        language=language,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User:
    """The user with this email and password; the same cost and error whether or not it exists."""
    user = by_email(session, email)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise InvalidCredentials()
    return user
