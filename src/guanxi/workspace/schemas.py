"""Pydantic shapes of workspaces and departments in the API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from guanxi.i18n import Language
from guanxi.kit.schema import Id, Patch, TimeZoneName


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
