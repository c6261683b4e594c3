"""Rules for workspaces and departments. No HTTP, no commit: the edge owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy.orm import Session

from guanxi.auth.permissions import DEFAULT_DATA_SCOPE, Role
from guanxi.auth.principal import Principal
from guanxi.errors import AlreadyExists, Conflict, InUse, NotFound
from guanxi.i18n import N_
from guanxi.models import Department, Membership, Workspace
from guanxi.workspace import repository as repo
from guanxi.workspace.schemas import DepartmentIn, DepartmentPatch, WorkspacePatch


class DepartmentCycle(Conflict):
    code = "department_cycle"
    message = N_("A department cannot be placed under itself or one of its sub-departments.")


def create_workspace(session: Session, *, name: str, owner_id: int, language: str) -> Workspace:
    """A new tenant; the creating user becomes its administrator."""
    workspace = Workspace(name=name, default_language=language)
    session.add(workspace)
    session.flush()
    session.add(
        Membership(
            workspace_id=workspace.id,
            user_id=owner_id,
            role=Role.admin.value,
            data_scope=DEFAULT_DATA_SCOPE[Role.admin].value,
        )
    )
    session.flush()
    return workspace


def get_workspace(session: Session, workspace_id: int) -> Workspace:
    workspace = repo.get_workspace(session, workspace_id)
    if workspace is None:
        raise NotFound(resource=N_("Workspace"))
    return workspace


def update_workspace(session: Session, actor: Principal, patch: WorkspacePatch) -> Workspace:
    actor.require("workspace:write")
    workspace = get_workspace(session, actor.workspace_id)
    for field, value in patch.changes().items():
        setattr(workspace, field, value)
    session.flush()
    return workspace


def list_departments(session: Session, actor: Principal) -> Sequence[Department]:
    actor.require("departments:read")
    return repo.list_departments(session, actor.workspace_id)


def get_department(session: Session, actor: Principal, department_id: int) -> Department:
    actor.require("departments:read")
    return _department(session, actor.workspace_id, department_id)


def _department(session: Session, workspace_id: int, department_id: int) -> Department:
    department = repo.get_department(session, workspace_id, department_id)
    if department is None:
        raise NotFound(resource=N_("Department"))
    return department


def create_department(session: Session, actor: Principal, data: DepartmentIn) -> Department:
    actor.require("departments:write")
    if data.parent_id is not None:
        _department(session, actor.workspace_id, data.parent_id)
    if repo.department_name_taken(session, actor.workspace_id, data.parent_id, data.name, None):
        raise AlreadyExists(resource=N_("Department"))
    department = Department(
        workspace_id=actor.workspace_id, name=data.name, parent_id=data.parent_id
    )
    session.add(department)
    session.flush()
    return department


def update_department(
    session: Session, actor: Principal, department_id: int, patch: DepartmentPatch
) -> Department:
    actor.require("departments:write")
    department = _department(session, actor.workspace_id, department_id)
    changes = patch.changes()
    parent_id = changes.get("parent_id", department.parent_id)
    if "parent_id" in changes and parent_id is not None:
        _department(session, actor.workspace_id, parent_id)
        all_departments = repo.list_departments(session, actor.workspace_id)
        if parent_id in subtree(all_departments, [department.id]):
            raise DepartmentCycle()
    name = changes.get("name", department.name)
    if repo.department_name_taken(session, actor.workspace_id, parent_id, name, department.id):
        raise AlreadyExists(resource=N_("Department"))
    department.name = name
    department.parent_id = parent_id
    session.flush()
    return department


def delete_department(session: Session, actor: Principal, department_id: int) -> None:
    actor.require("departments:write")
    department = _department(session, actor.workspace_id, department_id)
    if repo.department_usage(session, actor.workspace_id, department_id):
        raise InUse(resource=N_("Department"))
    session.delete(department)
    session.flush()


def subtree(departments: Iterable[Department], roots: Iterable[int]) -> set[int]:
    """The ids of ``roots`` and every department below them (pure)."""
    children: dict[int | None, list[int]] = {}
    for d in departments:
        children.setdefault(d.parent_id, []).append(d.id)
    found: set[int] = set()
    stack = list(roots)
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.add(current)
        stack.extend(children.get(current, []))
    return found
