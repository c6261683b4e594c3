"""Pydantic shapes of sign-in, members and API keys in the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from guanxi.auth.permissions import DataScope, Role
from guanxi.i18n import Language
from guanxi.kit.schema import Id, Patch
from guanxi.workspace.schemas import WorkspaceOut


def _email(value: str) -> str:
    value = value.strip().lower()
    local, sep, domain = value.partition("@")
    if not sep or not local or "." not in domain or " " in value or domain.startswith("."):
        raise ValueError("not an email address")
    return value


Email = Annotated[str, Field(min_length=3, max_length=254), AfterValidator(_email)]
Password = Annotated[str, Field(min_length=8, max_length=256)]


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: str = Field(min_length=1, max_length=256)
    workspace_id: Id | None = None


class SwitchWorkspaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workspace_id: Id


class MemberOut(BaseModel):
    id: Id
    email: str
    name: str
    role: Role
    data_scope: DataScope
    department_id: Id | None
    is_active: bool
    language: Language | None
    joined_at: datetime
    last_login_at: datetime | None


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    name: str = Field(min_length=1, max_length=120)
    password: Password | None = Field(
        default=None, description="Required for a new person; ignored when the email exists."
    )
    role: Role
    data_scope: DataScope | None = Field(default=None, description="Defaults from the role.")
    department_id: Id | None = None


class MemberPatch(Patch):
    nullable = frozenset({"department_id"})

    role: Role | None = None
    data_scope: DataScope | None = None
    department_id: Id | None = None
    is_active: bool | None = None


class MeOut(BaseModel):
    user: MemberOut
    workspace: WorkspaceOut
    workspaces: list[WorkspaceOut]
    permissions: list[str]
    via: str
    csrf_token: str | None = Field(
        default=None, description="Send as X-CSRF-Token with cookie-authenticated writes."
    )


class MePatch(Patch):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    language: Language | None = None
    password: Password | None = None


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    scopes: list[str] = Field(
        min_length=1,
        max_length=64,
        examples=[["users:read"], ["*"]],
        description="'*' or area:action",
    )
    expires_at: datetime | None = None


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    name: str
    prefix: str
    owner_id: Id
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    secret: str = Field(description="The whole key. Shown once: store it now.")
