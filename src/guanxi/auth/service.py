"""Sessions and API keys. No HTTP, no commit: the edge owns the transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, or_, true
from sqlalchemy.orm import Session

from guanxi.auth import repository as repo
from guanxi.auth import users
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
from guanxi.workspace import members

KEY_PREFIX = "gx_"
MAX_KEY_LIFETIME = timedelta(days=3653)


class InvalidScope(BadRequest):
    code = "invalid_scope"
    message = N_("Unknown scope {scope}: use '*' or area:action.")


class ScopeNotAllowed(Forbidden):
    code = "scope_not_allowed"
    message = N_("Your role cannot grant the scope {scope}.")


class SessionRequired(Forbidden):
    code = "session_required"
    message = N_("Sign in to do this: an API key cannot.")


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


def _membership(session: Session, workspace_id: int, user_id: int) -> Membership:
    membership = members.active_membership(session, workspace_id, user_id)
    if membership is None:
        raise NoWorkspace()
    return membership


def start_session(
    session: Session, user: User, workspace_id: int | None, now: datetime, days: int
) -> tuple[str, SessionContext]:
    """Open a session in ``workspace_id`` (or the user's first workspace). Returns the token."""
    if workspace_id is None:
        workspaces = members.workspaces_of(session, user.id)
        if not workspaces:
            raise NoWorkspace()
        workspace_id = workspaces[0].id
    membership = _membership(session, workspace_id, user.id)
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
    members.touch(session, membership, now)
    return token, SessionContext(principal_for(membership), user, record)


def resume_session(session: Session, token: str, now: datetime) -> SessionContext:
    record = repo.session_by_digest(session, digest(token))
    if record is None or record.expires_at <= now or record.workspace_id is None:
        raise NotAuthenticated()
    membership = members.active_membership(session, record.workspace_id, record.user_id)
    if membership is None:
        raise NotAuthenticated()
    return SessionContext(principal_for(membership), users.get(session, record.user_id), record)


def check_csrf(context: SessionContext, token: str | None) -> bool:
    return token is not None and same(context.record.csrf_token, token)


def switch_workspace(
    session: Session, context: SessionContext, workspace_id: int, now: datetime
) -> Principal:
    membership = _membership(session, workspace_id, context.user.id)
    context.record.workspace_id = workspace_id
    members.touch(session, membership, now)
    return principal_for(membership)


def end_session(session: Session, token: str) -> None:
    repo.delete_session(session, digest(token))


def update_me(session: Session, user: User, patch: MePatch, context: SessionContext | None) -> User:
    """Change one's own name, language or password. A new password needs a session and the
    current password, and signs out every other session of the login."""
    changes = patch.changes()
    changes.pop("current_password", None)
    if "password" in changes:
        if context is None:
            raise SessionRequired()
        if not verify_password(user.password_hash, patch.current_password or ""):
            raise InvalidCredentials()
        user.password_hash = hash_password(changes.pop("password"))
        repo.delete_sessions_of(session, user.id, keep=context.record.token_digest)
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
    membership = members.active_membership(session, key.workspace_id, key.owner_id)
    if membership is None:
        raise InvalidApiKey()
    repo.touch_api_key(session, key, now)
    return principal_for(membership, via="api_key", scopes=frozenset(key.scopes), api_key_id=key.id)


def visible_owner_ids(session: Session, actor: Principal) -> set[int] | None:
    """The owners whose records ``actor`` may see; ``None`` means everyone's."""
    if actor.data_scope == DataScope.all:
        return None
    if actor.data_scope == DataScope.own or actor.department_id is None:
        return {actor.user_id}
    return members.team_of(session, actor.workspace_id, actor.department_id) | {actor.user_id}


def owner_visible(session: Session, actor: Principal, owner: Any) -> ColumnElement[bool]:
    """SQL for "records whose ``owner`` column ``actor`` may see": own scope, their own; team
    scope, their team's and the unowned (the public pool); all scope, everything."""
    owners = visible_owner_ids(session, actor)
    if owners is None:
        return true()
    if actor.data_scope == DataScope.own:
        return cast(ColumnElement[bool], owner.in_(owners))
    return or_(owner.in_(owners), owner.is_(None))


def sees_owner(session: Session, actor: Principal) -> Callable[[int | None], bool]:
    """The same rule for rows already loaded."""
    owners = visible_owner_ids(session, actor)

    def check(owner_id: int | None) -> bool:
        if owners is None:
            return True
        if owner_id is None:
            return actor.data_scope != DataScope.own
        return owner_id in owners

    return check


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
    """Create a key owned by ``actor`` (signed in: a key cannot make keys, so that revoking a
    key ends everything it could do). Returns it with the whole secret, shown only once."""
    actor.require("api_keys:write")
    if actor.via == "api_key":
        raise SessionRequired()
    scopes = sorted(set(data.scopes))
    for scope in scopes:
        if not valid_scope(scope):
            raise InvalidScope(scope=scope)
        if scope != "*" and not role_allows(actor.role, scope):
            raise ScopeNotAllowed(scope=scope)
    if data.expires_at is not None and not now < data.expires_at <= now + MAX_KEY_LIFETIME:
        raise BadRequest(N_("The expiry date must be in the future, within ten years."))
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


def purge_expired_sessions(session: Session, now: datetime) -> None:
    repo.delete_expired_sessions(session, now)
