"""All SQL for workspaces and departments."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guanxi.models import Department, Membership, Workspace


def get_workspace(session: Session, workspace_id: int) -> Workspace | None:
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
