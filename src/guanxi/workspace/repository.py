"""All SQL for workspaces, departments and memberships."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from guanxi.models import Department, Membership, User, Workspace

ACTIVE = "active"


def get_workspace(session: Session, workspace_id: int, *, lock: bool = False) -> Workspace | None:
    """``lock`` takes the row for the transaction (PostgreSQL), serialising rule checks such
    as "keep one administrator" between concurrent requests; SQLite serialises writers anyway."""
    if lock:
        stmt = select(Workspace).where(Workspace.id == workspace_id).with_for_update()
        return session.scalar(stmt)
    return session.get(Workspace, workspace_id)


def get_department(session: Session, workspace_id: int, department_id: int) -> Department | None:
    return session.get(Department, (workspace_id, department_id))


def list_departments(session: Session, workspace_id: int) -> Sequence[Department]:
    stmt = (
        select(Department)
        .where(Department.workspace_id == workspace_id)
        .order_by(Department.name, Department.id)
    )
    return session.scalars(stmt).all()


def department_name_taken(
    session: Session, workspace_id: int, parent_id: int | None, name: str, exclude: int | None
) -> bool:
    stmt = select(func.count()).where(
        Department.workspace_id == workspace_id,
        Department.name == name,
        Department.parent_id.is_(None) if parent_id is None else Department.parent_id == parent_id,
    )
    if exclude is not None:
        stmt = stmt.where(Department.id != exclude)
    return (session.scalar(stmt) or 0) > 0


def department_usage(session: Session, workspace_id: int, department_id: int) -> int:
    children = select(func.count()).where(
        Department.workspace_id == workspace_id, Department.parent_id == department_id
    )
    members = select(func.count()).where(
        Membership.workspace_id == workspace_id, Membership.department_id == department_id
    )
    return (session.scalar(children) or 0) + (session.scalar(members) or 0)


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


def workspaces_of(session: Session, user_id: int, status: str = ACTIVE) -> Sequence[Workspace]:
    stmt = (
        select(Workspace)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == user_id, Membership.status == status)
        .order_by(Workspace.name, Workspace.id)
    )
    return session.scalars(stmt).all()


def invitations_of(session: Session, user_id: int) -> Sequence[tuple[Workspace, Membership]]:
    stmt = (
        select(Workspace, Membership)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == user_id, Membership.status == "invited")
        .order_by(Membership.created_at)
    )
    return [(w, m) for w, m in session.execute(stmt).all()]


def count_active_admins(session: Session, workspace_id: int) -> int:
    stmt = select(func.count()).where(
        Membership.workspace_id == workspace_id,
        Membership.role == "admin",
        Membership.status == ACTIVE,
    )
    return session.scalar(stmt) or 0
