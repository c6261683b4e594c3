"""Pydantic shapes of workspaces and departments in the API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from guanxi.auth.permissions import DataScope, Role
from guanxi.i18n import Language
from guanxi.kit.schema import Email, Id, Password, Patch, TimeZoneName

MemberStatus = Literal["active", "invited", "disabled"]


class WorkspaceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    name: str
    default_language: Language
    timezone: str
    created_at: datetime


class WorkspaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    default_language: Language = "zh_CN"


class WorkspacePatch(Patch):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    default_language: Language | None = None
    timezone: TimeZoneName | None = None


class DepartmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    name: str
    parent_id: Id | None
    created_at: datetime


class DepartmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    parent_id: Id | None = None


class DepartmentPatch(Patch):
    nullable = frozenset({"parent_id"})

    name: str | None = Field(default=None, min_length=1, max_length=120)
    parent_id: Id | None = None


class MemberOut(BaseModel):
    id: Id
    email: str
    name: str
    role: Role
    data_scope: DataScope
    department_id: Id | None
    status: MemberStatus = Field(
        description="active; invited (an existing login must accept); disabled"
    )
    is_active: bool
    language: Language | None
    joined_at: datetime
    last_seen_at: datetime | None = Field(description="Last sign-in into this workspace.")


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    name: str = Field(min_length=1, max_length=120)
    password: Password | None = Field(
        default=None,
        description="Initial password of a new login. An email that already has a login is "
        "invited instead (status invited) and joins when that person accepts.",
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
