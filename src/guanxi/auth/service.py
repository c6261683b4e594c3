"""Sign-in, sessions and API keys. No HTTP, no commit: the edge owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from guanxi.auth import repository as repo
from guanxi.auth.permissions import DataScope, Role, role_allows, valid_scope
from guanxi.auth.principal import Principal
from guanxi.auth.schemas import ApiKeyIn, MePatch
from guanxi.errors import (
    BadRequest,
    Forbidden,
    InvalidApiKey,
    InvalidCredentials,
    NotAuthenticated,
    NotFound,
)
from guanxi.i18n import N_
from guanxi.kit.pagination import SortSpec, paginate
from guanxi.kit.secrets import digest, hash_password, new_token, same, verify_password
from guanxi.models import ApiKey, Membership, User, UserSession
from guanxi.workspace import repository as workspace_repo
from guanxi.workspace.service import subtree

KEY_PREFIX = "gx_"


class InvalidScope(BadRequest):
    code = "invalid_scope"
    message = N_("Unknown scope {scope}: use '*' or area:action.")


class ScopeNotAllowed(Forbidden):
    code = "scope_not_allowed"
    message = N_("Your role cannot grant the scope {scope}.")


class NoWorkspace(Forbidden):
    code = "no_workspace"
    message = N_("You are not an active member of that workspace.")


@dataclass(frozen=True)
class SessionContext:
    principal: Principal
    user: User
    record: UserSession


def principal_for(membership: Membership, **extra: Any) -> Principal:
    return Principal(
        user_id=membership.user_id,
        workspace_id=membership.workspace_id,
        role=Role(membership.role),
        data_scope=DataScope(membership.data_scope),
        department_id=membership.department_id,
        via=extra.pop("via", "session"),
        **extra,
    )


def _active_membership(session: Session, workspace_id: int, user_id: int) -> Membership:
    membership = repo.get_membership(session, workspace_id, user_id)
    if membership is None or not membership.is_active:
        raise NoWorkspace()
    return membership


def authenticate(session: Session, email: str, password: str) -> User:
    user = repo.user_by_email(session, email.strip().lower())
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise InvalidCredentials()
    return user


def start_session(
    session: Session, user: User, workspace_id: int | None, now: datetime, days: int
) -> tuple[str, SessionContext]:
    """Open a session in ``workspace_id`` (or the user's first workspace). Returns the token."""
    if workspace_id is None:
        workspaces = repo.workspaces_of(session, user.id)
        if not workspaces:
            raise NoWorkspace()
        workspace_id = workspaces[0].id
    membership = _active_membership(session, workspace_id, user.id)
    repo.delete_expired_sessions(session, now)
    token = new_token()
    record = UserSession(
        token_digest=digest(token),
        user_id=user.id,
        workspace_id=workspace_id,
        csrf_token=new_token(24),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(record)
    user.last_login_at = now
    session.flush()
    return token, SessionContext(principal_for(membership), user, record)


def resume_session(session: Session, token: str, now: datetime) -> SessionContext:
    record = repo.session_by_digest(session, digest(token))
    if record is None or record.expires_at <= now or record.workspace_id is None:
        raise NotAuthenticated()
    user = repo.get_user(session, record.user_id)
    membership = repo.get_membership(session, record.workspace_id, record.user_id)
    if user is None or membership is None or not membership.is_active:
        raise NotAuthenticated()
    return SessionContext(principal_for(membership), user, record)


def check_csrf(context: SessionContext, token: str | None) -> bool:
    return token is not None and same(context.record.csrf_token, token)


def switch_workspace(session: Session, context: SessionContext, workspace_id: int) -> Principal:
    membership = _active_membership(session, workspace_id, context.user.id)
    context.record.workspace_id = workspace_id
    session.flush()
    return principal_for(membership)


def end_session(session: Session, token: str) -> None:
    repo.delete_session(session, digest(token))


def update_me(session: Session, user: User, patch: MePatch) -> User:
    changes = patch.changes()
    if "password" in changes:
        user.password_hash = hash_password(changes.pop("password"))
    for field, value in changes.items():
        setattr(user, field, value)
    session.flush()
    return user


def authenticate_api_key(session: Session, raw: str, now: datetime) -> Principal:
    """``gx_<prefix>_<secret>`` → the owner's principal, narrowed to the key's scopes."""
    if not raw.startswith(KEY_PREFIX):
        raise InvalidApiKey()
    prefix, _, secret = raw[len(KEY_PREFIX) :].partition("_")
    key = repo.api_key_by_prefix(session, prefix) if prefix and secret else None
    if (
        key is None
        or not same(key.secret_digest, digest(secret))
        or key.revoked_at is not None
        or (key.expires_at is not None and key.expires_at <= now)
    ):
        raise InvalidApiKey()
    membership = repo.get_membership(session, key.workspace_id, key.owner_id)
    if membership is None or not membership.is_active:
        raise InvalidApiKey()
    repo.touch_api_key(session, key, now)
    return principal_for(membership, via="api_key", scopes=frozenset(key.scopes), api_key_id=key.id)


def visible_owner_ids(session: Session, actor: Principal) -> set[int] | None:
    """The owners whose records ``actor`` may see; ``None`` means everyone's."""
    if actor.data_scope == DataScope.all:
        return None
    if actor.data_scope == DataScope.own or actor.department_id is None:
        return {actor.user_id}
    departments = workspace_repo.list_departments(session, actor.workspace_id)
    team = subtree(departments, [actor.department_id])
    return repo.member_ids_in_departments(session, actor.workspace_id, team) | {actor.user_id}


API_KEY_SORT = SortSpec(
    fields={"created_at": ApiKey.created_at, "name": ApiKey.name},
    tiebreak=ApiKey.id,
    default="-created_at",
)


def list_api_keys(
    session: Session,
    actor: Principal,
    *,
    include_revoked: bool,
    owner_id: int | None,
    sort: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Row[Any]], str | None]:
    actor.require("api_keys:read")
    stmt = repo.api_key_rows(actor.workspace_id)
    owners = visible_owner_ids(session, actor)
    if owners is not None:
        stmt = stmt.where(ApiKey.owner_id.in_(owners))
    if owner_id is not None:
        stmt = stmt.where(ApiKey.owner_id == owner_id)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return paginate(session, stmt, API_KEY_SORT, sort=sort, limit=limit, cursor=cursor)


def get_api_key(session: Session, actor: Principal, key_id: int) -> ApiKey:
    actor.require("api_keys:read")
    key = repo.get_api_key(session, actor.workspace_id, key_id)
    owners = visible_owner_ids(session, actor)
    if key is None or (owners is not None and key.owner_id not in owners):
        raise NotFound(resource=N_("API key"))
    return key


def create_api_key(
    session: Session, actor: Principal, data: ApiKeyIn, now: datetime
) -> tuple[ApiKey, str]:
    """Create a key owned by ``actor``; returns it with the whole secret, shown only once."""
    actor.require("api_keys:write")
    scopes = sorted(set(data.scopes))
    for scope in scopes:
        if not valid_scope(scope):
            raise InvalidScope(scope=scope)
        if scope != "*" and not role_allows(actor.role, scope):
            raise ScopeNotAllowed(scope=scope)
        if actor.scopes is not None and not (
            "*" in actor.scopes or scope in actor.scopes
        ):  # a key cannot mint a broader key
            raise ScopeNotAllowed(scope=scope)
    if data.expires_at is not None and data.expires_at <= now:
        raise BadRequest(N_("The expiry date must be in the future."))
    prefix, secret = new_token(6)[:8].replace("_", "x").replace("-", "y"), new_token(32)
    key = ApiKey(
        workspace_id=actor.workspace_id,
        owner_id=actor.user_id,
        name=data.name,
        prefix=prefix,
        secret_digest=digest(secret),
        scopes=scopes,
        expires_at=data.expires_at,
        created_at=now,
    )
    session.add(key)
    session.flush()
    return key, f"{KEY_PREFIX}{prefix}_{secret}"


def revoke_api_key(session: Session, actor: Principal, key_id: int, now: datetime) -> ApiKey:
    """The owner or an administrator revokes a key; revoking twice keeps the first time."""
    actor.require("api_keys:write")
    key = get_api_key(session, actor, key_id)
    if key.owner_id != actor.user_id and not actor.is_admin:
        raise Forbidden()
    if key.revoked_at is None:
        key.revoked_at = now
        session.flush()
    return key
