"""Create or refresh the demo workspace: departments, a member for every role, one admin login.

Running it again finds the same workspace (by its admin's email) and brings it back to the
demo state without duplicating anything; every demo login's password is reset to the one given.
Everything goes through the services, as an administrator would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy.orm import Session

from guanxi.auth import service as auth
from guanxi.auth import users
from guanxi.auth.permissions import Role
from guanxi.auth.principal import Principal
from guanxi.demo.generators import person
from guanxi.errors import NotFound
from guanxi.kit.secrets import hash_password
from guanxi.models import User
from guanxi.workspace import members
from guanxi.workspace import service as workspaces
from guanxi.workspace.schemas import DepartmentIn, MemberIn, MemberPatch

ADMIN_EMAIL = "admin@demo.guanxi.local"
WORKSPACE_NAME = "演示公司 Demo Co."
# (department, parent) — a small org: marketing, sales with two regional teams, success.
DEPARTMENTS = [
    ("市场部 Marketing", None),
    ("销售部 Sales", None),
    ("华东团队 East", "销售部 Sales"),
    ("华北团队 North", "销售部 Sales"),
    ("客户成功 Success", None),
]
# (role, department, how many)
STAFF = [
    (Role.marketer, "市场部 Marketing", 2),
    (Role.sdr, "销售部 Sales", 2),
    (Role.sales, "华东团队 East", 3),
    (Role.sales, "华北团队 North", 2),
    (Role.cs, "客户成功 Success", 2),
    (Role.viewer, None, 1),
]


@dataclass(frozen=True)
class DemoLogin:
    workspace_id: int
    email: str
    password: str
    members: int


def _login(session: Session, email: str, name: str, password: str, language: str) -> User:
    user = users.by_email(session, email)
    if user is None:
        return users.create(session, email=email, name=name, password=password, language=language)
    user.password_hash = hash_password(password)
    return user


def load_demo(session: Session, password: str, seed: int = 2026) -> DemoLogin:
    rng = random.Random(seed)
    admin = _login(session, ADMIN_EMAIL, "管理员 Admin", password, "zh_CN")
    workspace = next(
        (w for w in members.workspaces_of(session, admin.id) if w.name == WORKSPACE_NAME), None
    )
    if workspace is None:
        workspace = workspaces.create_workspace(
            session, name=WORKSPACE_NAME, owner_id=admin.id, language="zh_CN"
        )
    actor = auth.principal_for(members.find_member(session, workspace.id, admin.id)[1])

    by_name = {d.name: d.id for d in workspaces.list_departments(session, actor)}
    for name, parent in DEPARTMENTS:
        if name not in by_name:
            data = DepartmentIn(name=name, parent_id=by_name[parent] if parent else None)
            by_name[name] = workspaces.create_department(session, actor, data).id

    count = 1
    for role, team, n in STAFF:
        team_id = by_name[team] if team else None
        suffix = f"-{team.split()[-1].lower()}" if team else ""
        for i in range(1, n + 1):
            p = person(rng, english_share=0.3)
            email = f"{role.value}{i}{suffix}@demo.guanxi.local"
            _member(
                session, actor, _login(session, email, p.name, password, p.language), role, team_id
            )
            count += 1
    return DemoLogin(workspace.id, ADMIN_EMAIL, password, count)


def _member(
    session: Session, actor: Principal, user: User, role: Role, team_id: int | None
) -> None:
    """Make ``user`` an active member with ``role`` in ``team_id``, whatever it was before."""
    try:
        members.find_member(session, actor.workspace_id, user.id)
    except NotFound:
        data = MemberIn(email=user.email, name=user.name, role=role, department_id=team_id)
        members.add_member(session, actor, data)
        members.answer_invitation(session, user.id, actor.workspace_id, accept=True)
    patch = MemberPatch(role=role, department_id=team_id, is_active=True)
    members.update_member(session, actor, user.id, patch)
