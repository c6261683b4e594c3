"""Create or refresh the demo workspace: departments, a member for every role, one admin login.

Running it again finds the same workspace (by its admin's email) and brings it back to the
demo state without duplicating anything; the password is reset to the one given.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy.orm import Session

from guanxi.auth import repository as auth_repo
from guanxi.auth.permissions import DEFAULT_DATA_SCOPE, Role
from guanxi.demo.generators import person
from guanxi.kit.secrets import hash_password
from guanxi.models import Department, Membership, User, Workspace
from guanxi.workspace import repository as workspace_repo
from guanxi.workspace import service as workspaces

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


def _user(session: Session, email: str, name: str, password_hash: str, language: str) -> User:
    user = auth_repo.user_by_email(session, email)
    if user is None:
        user = User(email=email, name=name, language=language)
        session.add(user)
    user.password_hash = password_hash
    session.flush()
    return user


def _join(
    session: Session, workspace: Workspace, user: User, role: Role, department_id: int | None
) -> None:
    membership = auth_repo.get_membership(session, workspace.id, user.id)
    if membership is None:
        membership = Membership(workspace_id=workspace.id, user_id=user.id)
        session.add(membership)
    membership.role = role.value
    membership.data_scope = DEFAULT_DATA_SCOPE[role].value
    membership.department_id = department_id
    membership.is_active = True
    session.flush()


def load_demo(session: Session, password: str, seed: int = 2026) -> DemoLogin:
    rng = random.Random(seed)
    password_hash = hash_password(password)
    admin = _user(session, ADMIN_EMAIL, "管理员 Admin", password_hash, "zh_CN")
    existing = auth_repo.workspaces_of(session, admin.id)
    workspace = next((w for w in existing if w.name == WORKSPACE_NAME), None)
    if workspace is None:
        workspace = workspaces.create_workspace(
            session, name=WORKSPACE_NAME, owner_id=admin.id, language="zh_CN"
        )
    _join(session, workspace, admin, Role.admin, None)

    by_name = {d.name: d for d in workspace_repo.list_departments(session, workspace.id)}
    for name, parent in DEPARTMENTS:
        if name not in by_name:
            department = Department(
                workspace_id=workspace.id,
                name=name,
                parent_id=by_name[parent].id if parent else None,
            )
            session.add(department)
            session.flush()
            by_name[name] = department

    count = 1
    for role, team, n in STAFF:
        team_id = by_name[team].id if team else None
        suffix = f"-{team.split()[-1].lower()}" if team else ""
        for i in range(1, n + 1):
            p = person(rng, english_share=0.3)
            email = f"{role.value}{i}{suffix}@demo.guanxi.local"
            user = _user(session, email, p.name, password_hash, p.language)
            _join(session, workspace, user, role, team_id)
            count += 1
    return DemoLogin(workspace.id, ADMIN_EMAIL, password, count)
