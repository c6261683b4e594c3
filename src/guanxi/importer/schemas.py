"""Pydantic shapes of imports in the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from guanxi.kit.schema import Id


class UploadOut(BaseModel):
    file_id: str
    format: Literal["csv", "xlsx"]
    encoding: str | None
    delimiter: str | None
    headers: list[str]
    sample: list[dict[str, str]] = Field(description="The first rows, as read.")
    suggested_mapping: dict[str, str]


class ImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file_id: str = Field(pattern=r"^[0-9]{1,19}$")
    mapping: dict[str, str] = Field(
        description="Column header → target: name, email, phone, title, gender, city, province, "
        "country, language, source, stage, owner (a member's email), custom.<key>, "
        "identity.<kind>[:namespace], account.name, account.domain, account.role, "
        "account.title, or ignore."
    )
    dedup: Literal["skip", "update", "merge"] = "update"
    overwrite: bool = False
    create: bool = True
    accounts: Literal["link", "create"] = "create"
    dry_run: bool = False
    list_id: Id | None = Field(
        default=None, description="A static list every contact the file names is added to."
    )


class ImportOut(BaseModel):
    id: Id
    status: Literal["pending", "running", "done", "failed", "cancelled"]
    cancel_requested: bool
    options: dict[str, Any]
    counts: dict[str, int]
    line: int
    sample: list[dict[str, Any]] = Field(
        default_factory=list, description="A dry run's first new contacts."
    )
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ProblemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    line: int
    column: str | None
    value: str | None
    reason: str
    message: str


class MappingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    mapping: dict[str, str]


class MappingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    name: str
    mapping: dict[str, str]
    created_at: datetime
