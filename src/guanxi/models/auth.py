"""Users (global logins), their memberships in workspaces, API keys and console sessions.

A user is a person who can sign in; the same person may work in several workspaces, each through
a membership that carries the role, data scope and department there. Users and sessions are the
only rows that belong to no single workspace.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from guanxi.models.base import Base, JSONType, UTCDateTime, created_at_column, id_column


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = id_column()
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    created_at: Mapped[datetime] = created_at_column()


class Membership(Base):
    __tablename__ = "membership"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "department_id"],
            ["department.workspace_id", "department.id"],
            name="fk_membership_department",
        ),
        Index("ix_membership_user", "user_id"),
    )

    workspace_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))
    data_scope: Mapped[str] = mapped_column(String(8))
    department_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # active | invited (an existing login asked to join; it must accept) | disabled
    status: Mapped[str] = mapped_column(String(8), default="active")
    # The name the inviter typed: shown until the person accepts, so that an invitation
    # reveals nothing of a login that other workspaces share.
    invited_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ApiKey(Base):
    """A bearer key ``gx_<prefix>_<secret>``: the prefix finds the row, the secret's digest proves it."""

    __tablename__ = "api_key"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "owner_id"],
            ["membership.workspace_id", "membership.user_id"],
            name="fk_api_key_owner",
        ),
    )

    workspace_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = id_column()
    owner_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_digest: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class UserSession(Base):
    """A console/API login: the cookie holds a random token, the table only its digest."""

    __tablename__ = "user_session"

    token_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="SET NULL"), nullable=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
