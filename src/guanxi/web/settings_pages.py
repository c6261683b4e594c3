"""Console settings: members, departments and API keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from guanxi.auth import service as auth
from guanxi.auth.permissions import (
    PERMISSIONS,
    ROLE_LABELS,
    SCOPE_LABELS,
    DataScope,
    Role,
)
from guanxi.auth.schemas import ApiKeyIn
from guanxi.errors import GuanxiError
from guanxi.kit.clock import utcnow
from guanxi.kit.schema import Id
from guanxi.web.nav import MODULES
from guanxi.web.render import failure, page
from guanxi.web.session import Console, ConsoleDep
from guanxi.workspace import members
from guanxi.workspace import service as workspaces
from guanxi.workspace.schemas import DepartmentIn, MemberIn, MemberPatch

router = APIRouter()


def _users_page(
    request: Request,
    console: Console,
    *,
    cursor: str | None = None,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    console.principal.require("users:read")
    rows, next_cursor = members.list_members(
        console.session,
        console.principal,
        role=None,
        department_id=None,
        status=None,
        q=None,
        sort="name",
        limit=100,
        cursor=cursor,
    )
    departments = workspaces.list_departments(console.session, console.principal)
    return page(
        request,
        "settings/users.html",
        status_code,
        console=console,
        modules=MODULES,
        active="settings",
        tab="users",
        members=[members.member_out(r.User, r.Membership) for r in rows],
        next_cursor=next_cursor,
        departments=departments,
        department_names={d.id: d.name for d in departments},
        roles=list(Role),
        role_labels=ROLE_LABELS,
        scopes=list(DataScope),
        scope_labels=SCOPE_LABELS,
        can_write=console.principal.can("users:write"),
        error=error,
        notice=notice,
    )


@router.get("/users", response_class=HTMLResponse)
def users(request: Request, console: ConsoleDep, cursor: str | None = None) -> HTMLResponse:
    return _users_page(request, console, cursor=cursor)


@router.post("/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    console: ConsoleDep,
    email: Annotated[str, Form()],
    name: Annotated[str, Form()],
    role: Annotated[str, Form()],
    password: Annotated[str, Form()] = "",
    department_id: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = MemberIn(
            email=email,
            name=name,
            role=role,
            password=password or None,
            department_id=department_id or None,
        )
        members.add_member(console.session, console.principal, data)
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return _users_page(request, console, **failure(request, exc))
    return RedirectResponse("/app/settings/users?added=1", status_code=303)


@router.post("/users/{user_id}", response_class=HTMLResponse)
def update_user(
    request: Request,
    console: ConsoleDep,
    user_id: Id,
    role: Annotated[str, Form()],
    data_scope: Annotated[str, Form()],
    department_id: Annotated[str, Form()] = "",
    is_active: Annotated[str, Form()] = "",
    active_field: Annotated[str, Form()] = "",
) -> Response:
    try:
        fields: dict[str, Any] = {
            "role": role,
            "data_scope": data_scope,
            "department_id": department_id or None,
        }
        if active_field:  # invitations have no such switch: the person accepts or not
            fields["is_active"] = bool(is_active)
        patch = MemberPatch(**fields)
        members.update_member(console.session, console.principal, user_id, patch)
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return _users_page(request, console, **failure(request, exc))
    return RedirectResponse("/app/settings/users", status_code=303)


@router.post("/departments", response_class=HTMLResponse)
def add_department(
    request: Request,
    console: ConsoleDep,
    name: Annotated[str, Form()],
    parent_id: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = DepartmentIn(name=name, parent_id=parent_id or None)
        workspaces.create_department(console.session, console.principal, data)
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return _users_page(request, console, **failure(request, exc))
    return RedirectResponse("/app/settings/users", status_code=303)


def _keys_page(
    request: Request,
    console: Console,
    *,
    cursor: str | None = None,
    secret: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rows, next_cursor = auth.list_api_keys(
        console.session,
        console.principal,
        include_revoked=True,
        owner_id=None,
        sort="-created_at",
        limit=50,
        cursor=cursor,
    )
    keys = [r.ApiKey for r in rows]
    owner_ids = {k.owner_id for k in keys}
    owners = (
        members.names(console.session, console.principal, owner_ids)
        if console.principal.can("users:read")
        else {}
    )
    return page(
        request,
        "settings/api_keys.html",
        status_code,
        console=console,
        modules=MODULES,
        active="settings",
        tab="api_keys",
        keys=keys,
        next_cursor=next_cursor,
        owners=owners,
        permissions=sorted(p for p in PERMISSIONS if console.principal.can(p)),
        can_write=console.principal.can("api_keys:write"),
        secret=secret,
        error=error,
    )


@router.get("/api-keys", response_class=HTMLResponse)
def api_keys(request: Request, console: ConsoleDep, cursor: str | None = None) -> HTMLResponse:
    return _keys_page(request, console, cursor=cursor)


@router.post("/api-keys", response_class=HTMLResponse)
def create_api_key(
    request: Request,
    console: ConsoleDep,
    name: Annotated[str, Form()],
    scopes: Annotated[list[str] | None, Form()] = None,
) -> HTMLResponse:
    """Create a key and show its secret once, on this page only."""
    try:
        data = ApiKeyIn(name=name, scopes=scopes or [])
        _, secret = auth.create_api_key(console.session, console.principal, data, utcnow())
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return _keys_page(request, console, **failure(request, exc))
    return _keys_page(request, console, secret=secret)


@router.post("/api-keys/{key_id}/revoke")
def revoke_api_key(console: ConsoleDep, key_id: Id) -> RedirectResponse:
    auth.revoke_api_key(console.session, console.principal, key_id, utcnow())
    return RedirectResponse("/app/settings/api-keys", status_code=303)
