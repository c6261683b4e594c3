"""Pydantic shapes of accounts and their contacts in the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from guanxi.kit.schema import Id, Patch

Tier = Literal["KA", "mid", "SMB"]
CommitteeRole = Literal["decision_maker", "influencer", "user", "procurement", "champion"]


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    domain: str | None = Field(default=None, max_length=253, examples=["acme.com.cn"])
    industry: str | None = Field(default=None, max_length=80)
    size: str | None = Field(default=None, max_length=32, examples=["200-999"])
    revenue: float | None = Field(default=None, ge=0, le=1e15)
    region: str | None = Field(default=None, max_length=80)
    tier: Tier | None = None
    owner_id: Id | None = None
    custom: dict[str, Any] = Field(default_factory=dict)


class AccountPatch(Patch):
    nullable = frozenset({"domain", "industry", "size", "revenue", "region", "tier", "owner_id"})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    domain: str | None = Field(default=None, max_length=253)
    industry: str | None = Field(default=None, max_length=80)
    size: str | None = Field(default=None, max_length=32)
    revenue: float | None = Field(default=None, ge=0, le=1e15)
    region: str | None = Field(default=None, max_length=80)
    tier: Tier | None = None
    owner_id: Id | None = None
    custom: dict[str, Any] | None = None


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    name: str
    domain: str | None
    industry: str | None
    size: str | None
    revenue: float | None
    region: str | None
    tier: Tier | None
    owner_id: Id | None
    custom: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: CommitteeRole | None = None
    title: str | None = Field(default=None, max_length=120)
    reports_to_id: Id | None = Field(default=None, description="Another contact of this account.")


class MemberLinkOut(BaseModel):
    """A contact at an account: role, title and whom they report to; ``reports`` nests the org
    chart below them."""

    contact_id: Id
    name: str | None
    email: str | None
    role: CommitteeRole | None
    title: str | None
    reports_to_id: Id | None
    reports: list[MemberLinkOut] = Field(default_factory=list)


class ContactAccountOut(BaseModel):
    account: AccountOut
    role: CommitteeRole | None
    title: str | None
    reports_to_id: Id | None


MemberLinkOut.model_rebuild()
