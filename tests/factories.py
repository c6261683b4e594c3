"""Factories that build tenants, members and keys through the services (never raw rows)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.auth import service as auth
from guanxi.auth.permissions import DEFAULT_DATA_SCOPE, DataScope, Role, role_allows
from guanxi.auth.principal import Principal
from guanxi.auth.schemas import ApiKeyIn
from guanxi.db import transaction
from guanxi.kit.clock import utcnow
from guanxi.kit.ids import new_id
from guanxi.workspace import members, service
from guanxi.workspace.schemas import MemberIn

PASSWORD = "correct horse battery"
_seq = itertools.count()


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{new_id()}-{next(_seq)}@example.test"


@dataclass
class Member:
    user_id: int
    email: str
    role: Role
    key: str  # an API key with scope '*' ("" for a viewer, who may not create keys)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class Tenant:
    app: FastAPI
    workspace_id: int
    admin: Member
    members: dict[str, Member] = field(default_factory=dict)

    def session(self) -> Any:
        return transaction(self.app.state.sessionmaker)

    def add(
        self,
        role: Role,
        *,
        name: str | None = None,
        department_id: int | None = None,
        data_scope: DataScope | None = None,
        scopes: list[str] | None = None,
    ) -> Member:
        email = unique_email(role.value)
        with self.session() as s:
            admin = self.principal_in(s, self.admin)
            user, _ = members.add_member(
                s,
                admin,
                MemberIn(
                    email=email,
                    name=name or f"{role.value} {next(_seq)}",
                    password=PASSWORD,
                    role=role,
                    data_scope=data_scope or DEFAULT_DATA_SCOPE[role],
                    department_id=department_id,
                ),
            )
            user_id = user.id
        member = Member(user_id, email, role, "")
        if role_allows(role, "api_keys:write"):  # viewers hold no keys: they use a session
            member.key = self.key_for(member, scopes or ["*"])
        self.members[email] = member
        return member

    def call(self, method: str, url: str, **kw: Any) -> Any:
        """An API call as the administrator (``url`` under /api/v1) that must succeed; its
        JSON body."""
        r = TestClient(self.app).request(method, f"/api/v1{url}", headers=self.admin.auth, **kw)
        assert r.status_code < 300, r.text
        return r.json() if r.content else None

    def principal_in(self, s: Any, member: Member) -> Principal:
        _, membership = members.find_member(s, self.workspace_id, member.user_id)
        return auth.principal_for(membership)

    def key_for(self, member: Member, scopes: list[str]) -> str:
        with self.session() as s:
            _, secret = auth.create_api_key(
                s, self.principal_in(s, member), ApiKeyIn(name="test", scopes=scopes), utcnow()
            )
        return secret

    def department(self, name: str, parent_id: int | None = None) -> int:
        from guanxi.workspace.schemas import DepartmentIn

        with self.session() as s:
            d = service.create_department(
                s, self.principal_in(s, self.admin), DepartmentIn(name=name, parent_id=parent_id)
            )
            return d.id


def make_tenant(app: FastAPI, name: str = "Acme 测试") -> Tenant:
    """A new workspace named ``name`` with an administrator holding a '*' API key."""
    email = unique_email("admin")
    with transaction(app.state.sessionmaker) as s:
        user, workspace = members.create_owner(
            s, email=email, name=name, password=PASSWORD, language="en"
        )
        ids = (user.id, workspace.id)
    admin = Member(ids[0], email, Role.admin, "")
    tenant = Tenant(app, ids[1], admin)
    admin.key = tenant.key_for(admin, ["*"])
    return tenant


def login(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Sign in through the API; returns the CSRF token for cookie-authenticated writes."""
    r = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


TOPICS = {
    "object": "contact",
    "key": "topics",
    "label": "兴趣",
    "type": "multi_select",
    "options": ["AI", "SaaS", "IoT"],
}


def add_fields(app: FastAPI, tenant: Tenant, *fields: dict[str, Any]) -> None:
    """Custom field definitions, created through the API by the tenant's administrator."""
    client = TestClient(app)
    for definition in fields:
        r = client.post("/api/v1/custom-fields", json=definition, headers=tenant.admin.auth)
        assert r.status_code == 201, r.text
