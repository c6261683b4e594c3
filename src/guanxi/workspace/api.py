"""Routes for the workspace, its departments and its members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from guanxi.auth.permissions import Role
from guanxi.errors import NotAuthenticated
from guanxi.http.deps import DB, Actor, CallerDep, Listing
from guanxi.http.errors import errors
from guanxi.kit.page import Page
from guanxi.kit.schema import Id
from guanxi.workspace import members, service
from guanxi.workspace.schemas import (
    DepartmentIn,
    DepartmentOut,
    DepartmentPatch,
    MemberIn,
    MemberOut,
    MemberPatch,
    MemberStatus,
    WorkspaceIn,
    WorkspaceOut,
    WorkspacePatch,
)

router = APIRouter(tags=["workspace"])


@router.get("/workspace", response_model=WorkspaceOut)
def get_workspace(actor: Actor, session: DB) -> WorkspaceOut:
    """The workspace of the caller (a session's current one, or the API key's)."""
    return WorkspaceOut.model_validate(service.get_workspace(session, actor.workspace_id))


@router.patch("/workspace", response_model=WorkspaceOut)
def update_workspace(data: WorkspacePatch, actor: Actor, session: DB) -> WorkspaceOut:
    return WorkspaceOut.model_validate(service.update_workspace(session, actor, data))


@router.post("/workspaces", response_model=WorkspaceOut, status_code=201)
def create_workspace(data: WorkspaceIn, caller: CallerDep, session: DB) -> WorkspaceOut:
    """Create a new workspace with you as its administrator (signed-in users, not API keys)."""
    if caller.session_context is None:
        raise NotAuthenticated()
    workspace = service.create_workspace(
        session, name=data.name, owner_id=caller.principal.user_id, language=data.default_language
    )
    return WorkspaceOut.model_validate(workspace)


@router.get("/departments", response_model=Page[DepartmentOut])
def list_departments(actor: Actor, session: DB) -> Page[DepartmentOut]:
    """Every department of the workspace (a tree by ``parent_id``), in one page."""
    items = [DepartmentOut.model_validate(d) for d in service.list_departments(session, actor)]
    return Page(items=items, next_cursor=None)


@router.post(
    "/departments", response_model=DepartmentOut, status_code=201, responses=errors(404, 409)
)
def create_department(data: DepartmentIn, actor: Actor, session: DB) -> DepartmentOut:
    return DepartmentOut.model_validate(service.create_department(session, actor, data))


@router.get("/departments/{department_id}", response_model=DepartmentOut)
def get_department(department_id: Id, actor: Actor, session: DB) -> DepartmentOut:
    return DepartmentOut.model_validate(service.get_department(session, actor, department_id))


@router.patch("/departments/{department_id}", response_model=DepartmentOut, responses=errors(409))
def update_department(
    department_id: Id, data: DepartmentPatch, actor: Actor, session: DB
) -> DepartmentOut:
    department = service.update_department(session, actor, department_id, data)
    return DepartmentOut.model_validate(department)


@router.delete(
    "/departments/{department_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(409)
)
def delete_department(department_id: Id, actor: Actor, session: DB) -> Response:
    """Delete an empty department (no members, no sub-departments)."""
    service.delete_department(session, actor, department_id)
    return Response(status_code=204)


@router.get("/users", response_model=Page[MemberOut])
def list_users(
    actor: Actor,
    session: DB,
    listing: Listing,
    role: Role | None = None,
    department_id: Annotated[Id | None, Query()] = None,
    status: MemberStatus | None = None,
    q: Annotated[str | None, Query(max_length=120, description="Part of a name or email.")] = None,
) -> Page[MemberOut]:
    """Members of the workspace. Sort by ``name``, ``email`` or ``joined_at``."""
    rows, cursor = members.list_members(
        session,
        actor,
        role=role,
        department_id=department_id,
        status=status,
        q=q,
        sort=listing.sort,
        limit=listing.limit,
        cursor=listing.cursor,
    )
    return Page(items=[members.member_out(r.User, r.Membership) for r in rows], next_cursor=cursor)


@router.post("/users", response_model=MemberOut, status_code=201, responses=errors(400, 404, 409))
def add_user(data: MemberIn, actor: Actor, session: DB) -> MemberOut:
    """Add a person to the workspace with a role, data scope and department."""
    return members.member_out(*members.add_member(session, actor, data))


@router.get("/users/{user_id}", response_model=MemberOut)
def get_user(user_id: Id, actor: Actor, session: DB) -> MemberOut:
    return members.member_out(*members.get_member(session, actor, user_id))


@router.patch("/users/{user_id}", response_model=MemberOut, responses=errors(409))
def update_user(user_id: Id, data: MemberPatch, actor: Actor, session: DB) -> MemberOut:
    """Change a member's role, data scope, department, or deactivate them."""
    return members.member_out(*members.update_member(session, actor, user_id, data))
