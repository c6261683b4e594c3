"""Members of a workspace: people with a role, a data scope and a department.

A new email gets a login at once (the administrator sets its first password). An email that
already has a login — perhaps in another company's workspace — is only *invited*: the inviter sees
nothing but what they typed, and the person joins when they accept. Other workspaces cannot add a
login to theirs unasked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, or_
from sqlalchemy.orm import Session

from guanxi.auth import users
from guanxi.auth.permissions import DEFAULT_DATA_SCOPE, DataScope, Role
from guanxi.auth.principal import Principal
from guanxi.errors import AlreadyExists, BadRequest, Conflict, NotFound
from guanxi.i18n import N_, parse_language
from guanxi.kit.pagination import SortSpec, paginate
from guanxi.models import Membership, User, Workspace
from guanxi.workspace import repository as repo
from guanxi.workspace.schemas import MemberIn, MemberOut, MemberPatch
from guanxi.workspace.service import create_workspace, subtree

ACTIVE, INVITED, DISABLED = "active", "invited", "disabled"


class LastAdmin(Conflict):
    code = "last_admin"
    message = N_("A workspace keeps at least one active administrator.")


class InvitationPending(Conflict):
    code = "invitation_pending"
    message = N_("This person has not accepted the invitation yet.")


MEMBER_SORT = SortSpec(
    fields={"name": User.name, "email": User.email, "joined_at": Membership.created_at},
    tiebreak=User.id,
    default="name",
)


def member_out(user: User, membership: Membership) -> MemberOut:
    invited = membership.status == INVITED
    return MemberOut(
        id=user.id,
        email=user.email,
        name=membership.invited_name or user.name if invited else user.name,
        role=Role(membership.role),
        data_scope=DataScope(membership.data_scope),
        department_id=membership.department_id,
        status=membership.status,
        is_active=membership.status == ACTIVE,
        language=None if invited else parse_language(user.language),
        joined_at=membership.created_at,
        last_seen_at=membership.last_seen_at,
    )


def list_members(
    session: Session,
    actor: Principal,
    *,
    role: Role | None,
    department_id: int | None,
    status: str | None,
    q: str | None,
    sort: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Row[Any]], str | None]:
    actor.require("users:read")
    stmt = repo.member_rows(actor.workspace_id)
    if role is not None:
        stmt = stmt.where(Membership.role == role.value)
    if department_id is not None:
        stmt = stmt.where(Membership.department_id == department_id)
    if status is not None:
        stmt = stmt.where(Membership.status == status)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(or_(User.email.like(like), User.name.ilike(like)))
    return paginate(session, stmt, MEMBER_SORT, sort=sort, limit=limit, cursor=cursor)


def names(session: Session, actor: Principal, user_ids: set[int]) -> dict[int, str]:
    """Display names of some members (as ``member_out`` shows them), for lists of owners."""
    actor.require("users:read")
    stmt = repo.member_rows(actor.workspace_id).where(Membership.user_id.in_(user_ids))
    return {u.id: member_out(u, m).name for u, m in session.execute(stmt).all()}


def get_member(session: Session, actor: Principal, user_id: int) -> tuple[User, Membership]:
    actor.require("users:read")
    return find_member(session, actor.workspace_id, user_id)


def find_member(session: Session, workspace_id: int, user_id: int) -> tuple[User, Membership]:
    membership = repo.get_membership(session, workspace_id, user_id)
    if membership is None:
        raise NotFound(resource=N_("Member"))
    return users.get(session, user_id), membership


def active_membership(session: Session, workspace_id: int, user_id: int) -> Membership | None:
    membership = repo.get_membership(session, workspace_id, user_id)
    return membership if membership is not None and membership.status == ACTIVE else None


def workspaces_of(session: Session, user_id: int) -> Sequence[Workspace]:
    """The workspaces a login is an active member of."""
    return repo.workspaces_of(session, user_id)


def invitations_of(session: Session, user_id: int) -> Sequence[tuple[Workspace, Membership]]:
    return repo.invitations_of(session, user_id)


def team_of(session: Session, workspace_id: int, department_id: int) -> set[int]:
    """Members of a department and of every department below it."""
    team = subtree(repo.list_departments(session, workspace_id), [department_id])
    return repo.member_ids_in_departments(session, workspace_id, team)


def touch(session: Session, membership: Membership, now: datetime) -> None:
    membership.last_seen_at = now
    session.flush()


def _check_department(session: Session, workspace_id: int, department_id: int | None) -> None:
    if department_id is None:
        return
    if repo.get_department(session, workspace_id, department_id) is None:
        raise NotFound(resource=N_("Department"))


def create_owner(
    session: Session, *, email: str, name: str, password: str, language: str
) -> tuple[User, Workspace]:
    """A new login and a new workspace that it administers (``guanxi user create``)."""
    if users.by_email(session, email) is not None:
        raise AlreadyExists(resource=N_("Member"))
    user = users.create(session, email=email, name=name, password=password, language=language)
    workspace = create_workspace(session, name=name, owner_id=user.id, language=language)
    return user, workspace


def add_member(session: Session, actor: Principal, data: MemberIn) -> tuple[User, Membership]:
    """Add a new login, or invite an existing one (see the module's docstring)."""
    actor.require("users:write")
    _check_department(session, actor.workspace_id, data.department_id)
    user = users.by_email(session, data.email)
    if user is None:
        if data.password is None:
            raise BadRequest(N_("A password is required for a new person."))
        user = users.create(session, email=data.email, name=data.name, password=data.password)
        status, invited_name = ACTIVE, None
    elif repo.get_membership(session, actor.workspace_id, user.id) is not None:
        raise AlreadyExists(resource=N_("Member"))
    else:
        status, invited_name = INVITED, data.name
    membership = Membership(
        workspace_id=actor.workspace_id,
        user_id=user.id,
        role=data.role.value,
        data_scope=(data.data_scope or DEFAULT_DATA_SCOPE[data.role]).value,
        department_id=data.department_id,
        status=status,
        invited_name=invited_name,
    )
    session.add(membership)
    session.flush()
    return user, membership


def update_member(
    session: Session, actor: Principal, user_id: int, patch: MemberPatch
) -> tuple[User, Membership]:
    actor.require("users:write")
    repo.get_workspace(session, actor.workspace_id, lock=True)
    user, membership = find_member(session, actor.workspace_id, user_id)
    changes = patch.changes()
    if "department_id" in changes:
        _check_department(session, actor.workspace_id, changes["department_id"])
    was_admin = membership.role == Role.admin and membership.status == ACTIVE
    if "role" in changes:
        membership.role = Role(changes["role"]).value
        if "data_scope" not in changes:
            membership.data_scope = DEFAULT_DATA_SCOPE[Role(changes["role"])].value
    if "data_scope" in changes:
        membership.data_scope = DataScope(changes["data_scope"]).value
    if "department_id" in changes:
        membership.department_id = changes["department_id"]
    if "is_active" in changes:
        if membership.status == INVITED:
            raise InvitationPending()
        membership.status = ACTIVE if changes["is_active"] else DISABLED
    still_admin = membership.role == Role.admin and membership.status == ACTIVE
    session.flush()
    if was_admin and not still_admin and repo.count_active_admins(session, actor.workspace_id) == 0:
        raise LastAdmin()
    return user, membership


def answer_invitation(session: Session, user_id: int, workspace_id: int, accept: bool) -> None:
    """The invited person accepts (becomes active) or declines (the invitation is deleted)."""
    membership = repo.get_membership(session, workspace_id, user_id)
    if membership is None or membership.status != INVITED:
        raise NotFound(resource=N_("Invitation"))
    if accept:
        membership.status = ACTIVE
        membership.invited_name = None
    else:
        session.delete(membership)
    session.flush()
