"""Workspaces (tenants) and their departments/teams."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, ForeignKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from guanxi.models.base import Base, created_at_column, id_column


class Workspace(Base):
    __tablename__ = "workspace"

    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(120))
    default_language: Mapped[str] = mapped_column(String(8), default="zh_CN")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    created_at: Mapped[datetime] = created_at_column()


class Department(Base):
    """A department or team; ``parent_id`` makes the org tree (team data scope covers subtrees)."""

    __tablename__ = "department"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "parent_id"],
            ["department.workspace_id", "department.id"],
            name="fk_department_parent",
        ),
    )

    workspace_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(120))
    parent_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = created_at_column()
