"""Routes for sign-in, the current user, invitations and API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.orm import Session

from guanxi.auth import service, users
from guanxi.auth.permissions import ROLE_PERMISSIONS, Role
from guanxi.auth.principal import Principal
from guanxi.auth.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    InvitationOut,
    LoginIn,
    MeOut,
    MePatch,
    SwitchWorkspaceIn,
)
from guanxi.errors import NotAuthenticated
from guanxi.http.deps import (
    DB,
    SESSION_COOKIE,
    Actor,
    Caller,
    CallerDep,
    Listing,
    set_session_cookie,
)
from guanxi.http.errors import errors
from guanxi.kit.clock import utcnow
from guanxi.kit.page import Page
from guanxi.kit.schema import Id
from guanxi.models import User
from guanxi.workspace import members
from guanxi.workspace import service as workspaces
from guanxi.workspace.schemas import WorkspaceOut

router = APIRouter(tags=["auth"])


def me_out(session: Session, principal: Principal, user: User, csrf: str | None) -> MeOut:
    _, membership = members.find_member(session, principal.workspace_id, principal.user_id)
    workspace = workspaces.get_workspace(session, principal.workspace_id)
    permissions = sorted(p for p in ROLE_PERMISSIONS[principal.role] if principal.can(p))
    invitations = [
        InvitationOut(
            workspace=WorkspaceOut.model_validate(w), role=Role(m.role), invited_at=m.created_at
        )
        for w, m in members.invitations_of(session, user.id)
    ]
    return MeOut(
        user=members.member_out(user, membership),
        workspace=WorkspaceOut.model_validate(workspace),
        workspaces=[
            WorkspaceOut.model_validate(w) for w in members.workspaces_of(session, user.id)
        ],
        invitations=invitations,
        permissions=permissions,
        via=principal.via,
        csrf_token=csrf,
    )


def _me(session: Session, caller: Caller) -> MeOut:
    context = caller.session_context
    user = context.user if context else users.get(session, caller.principal.user_id)
    return me_out(session, caller.principal, user, context.record.csrf_token if context else None)


def _session_only(caller: Caller) -> service.SessionContext:
    if caller.session_context is None:
        raise service.SessionRequired()
    return caller.session_context


@router.post("/auth/login", response_model=MeOut, responses=errors(401, 403, 422))
def login(data: LoginIn, request: Request, response: Response, session: DB) -> MeOut:
    """Sign in with email and password; sets the session cookie and returns the CSRF token."""
    user = users.authenticate(session, data.email, data.password)
    token, context = service.start_session(
        session, user, data.workspace_id, utcnow(), request.app.state.settings.session_days
    )
    set_session_cookie(request, response, token)
    return me_out(session, context.principal, user, context.record.csrf_token)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, response: Response, caller: CallerDep, session: DB) -> None:
    """End the session of the cookie (API keys have no session: revoke the key instead)."""
    token = request.cookies.get(SESSION_COOKIE)
    if caller.session_context is None or token is None:
        raise NotAuthenticated()
    service.end_session(session, token)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=MeOut)
def me(caller: CallerDep, session: DB) -> MeOut:
    """Who is calling: the member, the workspace, other workspaces, invitations, permissions."""
    return _me(session, caller)


@router.patch("/me", response_model=MeOut, responses=errors(401))
def update_me(data: MePatch, caller: CallerDep, session: DB) -> MeOut:
    """Change your own name or language; a new password needs a session and ``current_password``
    and signs out your other sessions."""
    user = users.get(session, caller.principal.user_id)
    service.update_me(session, user, data, caller.session_context)
    return _me(session, caller)


@router.post("/me/workspace", response_model=MeOut)
def switch_workspace(data: SwitchWorkspaceIn, caller: CallerDep, session: DB) -> MeOut:
    """Move the session to another of your workspaces (API keys belong to one workspace)."""
    context = _session_only(caller)
    principal = service.switch_workspace(session, context, data.workspace_id, utcnow())
    return me_out(session, principal, context.user, context.record.csrf_token)


@router.post("/me/invitations/{workspace_id}/accept", response_model=MeOut)
def accept_invitation(workspace_id: Id, caller: CallerDep, session: DB) -> MeOut:
    """Join a workspace you were invited to; it then appears among your workspaces."""
    context = _session_only(caller)
    members.answer_invitation(session, context.user.id, workspace_id, accept=True)
    return _me(session, caller)


@router.post("/me/invitations/{workspace_id}/decline", response_model=MeOut)
def decline_invitation(workspace_id: Id, caller: CallerDep, session: DB) -> MeOut:
    """Refuse an invitation; the inviting workspace sees the member disappear."""
    context = _session_only(caller)
    members.answer_invitation(session, context.user.id, workspace_id, accept=False)
    return _me(session, caller)


@router.get("/api-keys", response_model=Page[ApiKeyOut])
def list_api_keys(
    actor: Actor,
    session: DB,
    listing: Listing,
    owner_id: Annotated[Id | None, Query(description="Only keys of this member.")] = None,
    include_revoked: bool = False,
) -> Page[ApiKeyOut]:
    """Keys you may see: the workspace's with a data scope of all, else your own or your team's."""
    rows, cursor = service.list_api_keys(
        session,
        actor,
        include_revoked=include_revoked,
        owner_id=owner_id,
        sort=listing.sort,
        limit=listing.limit,
        cursor=listing.cursor,
    )
    return Page(items=[ApiKeyOut.model_validate(r.ApiKey) for r in rows], next_cursor=cursor)


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201, responses=errors(400))
def create_api_key(data: ApiKeyIn, actor: Actor, session: DB) -> ApiKeyCreated:
    """Create a key for yourself, signed in (a key cannot make keys). The secret is in this
    answer only."""
    key, secret = service.create_api_key(session, actor, data, utcnow())
    return ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), secret=secret)


@router.get("/api-keys/{key_id}", response_model=ApiKeyOut)
def get_api_key(key_id: Id, actor: Actor, session: DB) -> ApiKeyOut:
    return ApiKeyOut.model_validate(service.get_api_key(session, actor, key_id))


@router.post("/api-keys/{key_id}/revoke", response_model=ApiKeyOut)
def revoke_api_key(key_id: Id, actor: Actor, session: DB) -> ApiKeyOut:
    """Revoke a key at once; its next request answers 401."""
    return ApiKeyOut.model_validate(service.revoke_api_key(session, actor, key_id, utcnow()))
