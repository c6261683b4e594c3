"""Members of a workspace: people with a role, a data scope and a department."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, or_
from sqlalchemy.orm import Session

from guanxi.auth import repository as auth_repo
from guanxi.auth.permissions import DEFAULT_DATA_SCOPE, DataScope, Role
from guanxi.auth.principal import Principal
from guanxi.auth.schemas import MemberIn, MemberOut, MemberPatch
from guanxi.errors import AlreadyExists, BadRequest, Conflict, NotFound
from guanxi.i18n import N_, Language
from guanxi.kit.pagination import SortSpec, paginate
from guanxi.kit.secrets import hash_password
from guanxi.models import Membership, User, Workspace
from guanxi.workspace import repository as repo
from guanxi.workspace.service import create_workspace


class LastAdmin(Conflict):
    code = "last_admin"
    message = N_("A workspace keeps at least one active administrator.")


MEMBER_SORT = SortSpec(
    fields={"name": User.name, "email": User.email, "joined_at": Membership.created_at},
    tiebreak=User.id,
    default="name",
)


def member_out(user: User, membership: Membership) -> MemberOut:
    language: Language | None = user.language if user.language in ("zh_CN", "en") else None  # type: ignore[assignment]
    return MemberOut(
        id=user.id,
        email=user.email,
        name=user.name,
        role=Role(membership.role),
        data_scope=DataScope(membership.data_scope),
        department_id=membership.department_id,
        is_active=membership.is_active,
        language=language,
        joined_at=membership.created_at,
        last_login_at=user.last_login_at,
    )


def list_members(
    session: Session,
    actor: Principal,
    *,
    role: Role | None,
    department_id: int | None,
    is_active: bool | None,
    q: str | None,
    sort: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Row[Any]], str | None]:
    actor.require("users:read")
    stmt = auth_repo.member_rows(actor.workspace_id)
    if role is not None:
        stmt = stmt.where(Membership.role == role.value)
    if department_id is not None:
        stmt = stmt.where(Membership.department_id == department_id)
    if is_active is not None:
        stmt = stmt.where(Membership.is_active.is_(is_active))
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(or_(User.email.like(like), User.name.ilike(like)))
    return paginate(session, stmt, MEMBER_SORT, sort=sort, limit=limit, cursor=cursor)


def get_member(session: Session, actor: Principal, user_id: int) -> tuple[User, Membership]:
    actor.require("users:read")
    return find_member(session, actor.workspace_id, user_id)


def find_member(session: Session, workspace_id: int, user_id: int) -> tuple[User, Membership]:
    membership = auth_repo.get_membership(session, workspace_id, user_id)
    user = auth_repo.get_user(session, user_id) if membership else None
    if membership is None or user is None:
        raise NotFound(resource=N_("Member"))
    return user, membership


def _check_department(session: Session, workspace_id: int, department_id: int | None) -> None:
    if (
        department_id is not None
        and repo.get_department(session, workspace_id, department_id) is None
    ):
        raise NotFound(resource=N_("Department"))


def create_owner(
    session: Session, *, email: str, name: str, password: str, language: str
) -> tuple[User, Workspace]:
    """A new login and a new workspace that it administers (``guanxi user create``)."""
    if auth_repo.user_by_email(session, email) is not None:
        raise AlreadyExists(resource=N_("Member"))
    user = User(email=email, name=name, password_hash=hash_password(password), language=language)
    session.add(user)
    session.flush()
    workspace = create_workspace(session, name=name, owner_id=user.id, language=language)
    return user, workspace


def add_member(session: Session, actor: Principal, data: MemberIn) -> tuple[User, Membership]:
    """Add a person: a new login when the email is new, else the existing person joins.

    An existing person's password is never set here: an administrator of one workspace must not
    take over a login that other workspaces share.
    """
    actor.require("users:write")
    _check_department(session, actor.workspace_id, data.department_id)
    user = auth_repo.user_by_email(session, data.email)
    if user is None:
        if data.password is None:
            raise BadRequest(N_("A password is required for a new person."))
        user = User(email=data.email, name=data.name, password_hash=hash_password(data.password))
        session.add(user)
        session.flush()
    elif auth_repo.get_membership(session, actor.workspace_id, user.id) is not None:
        raise AlreadyExists(resource=N_("Member"))
    membership = Membership(
        workspace_id=actor.workspace_id,
        user_id=user.id,
        role=data.role.value,
        data_scope=(data.data_scope or DEFAULT_DATA_SCOPE[data.role]).value,
        department_id=data.department_id,
    )
    session.add(membership)
    session.flush()
    return user, membership


def update_member(
    session: Session, actor: Principal, user_id: int, patch: MemberPatch
) -> tuple[User, Membership]:
    actor.require("users:write")
    user, membership = find_member(session, actor.workspace_id, user_id)
    changes = patch.changes()
    if "department_id" in changes:
        _check_department(session, actor.workspace_id, changes["department_id"])
    was_admin = membership.role == Role.admin and membership.is_active
    if "role" in changes:
        membership.role = Role(changes["role"]).value
        if "data_scope" not in changes:
            membership.data_scope = DEFAULT_DATA_SCOPE[Role(changes["role"])].value
    if "data_scope" in changes:
        membership.data_scope = DataScope(changes["data_scope"]).value
    if "department_id" in changes:
        membership.department_id = changes["department_id"]
    if "is_active" in changes:
        membership.is_active = bool(changes["is_active"])
    still_admin = membership.role == Role.admin and membership.is_active
    if was_admin and not still_admin:
        session.flush()
        if auth_repo.count_active_admins(session, actor.workspace_id) == 0:
            raise LastAdmin()
    session.flush()
    return user, membership
