"""Pydantic shapes of sign-in, the current user and API keys in the API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from guanxi.auth.permissions import Role
from guanxi.i18n import Language
from guanxi.kit.schema import Email, Id, Password, Patch, Timestamp
from guanxi.workspace.schemas import MemberOut, WorkspaceOut


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: str = Field(min_length=1, max_length=256)
    workspace_id: Id | None = None


class SwitchWorkspaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workspace_id: Id


class InvitationOut(BaseModel):
    workspace: WorkspaceOut
    role: Role
    invited_at: datetime


class MeOut(BaseModel):
    user: MemberOut
    workspace: WorkspaceOut
    workspaces: list[WorkspaceOut]
    invitations: list[InvitationOut]
    permissions: list[str]
    via: str
    csrf_token: str | None = Field(
        default=None, description="Send as X-CSRF-Token with cookie-authenticated writes."
    )


class MePatch(Patch):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    language: Language | None = None
    password: Password | None = Field(
        default=None, description="A new password: signed in only, with current_password."
    )
    current_password: str | None = Field(default=None, max_length=256)


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    scopes: list[str] = Field(
        min_length=1,
        max_length=64,
        examples=[["users:read"], ["*"]],
        description="'*' or area:action",
    )
    expires_at: Timestamp | None = Field(
        default=None, description="With a time zone; at most ten years ahead."
    )


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
