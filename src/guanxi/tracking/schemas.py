"""Pydantic shapes of web tracking: what the snippet sends, and the tracking settings."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from guanxi.kit.schema import Id

AnonymousId = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class WebEventIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=8, max_length=64, description="Random per event: a resend is one.")
    type: str = Field(min_length=1, max_length=64)
    properties: dict[str, Any] = Field(default_factory=dict)


class CollectIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    anonymous_id: str = AnonymousId
    events: list[WebEventIn] = Field(min_length=1, max_length=20)


class Traits(BaseModel):
    """What a page may say about its visitor."""

    model_config = ConfigDict(extra="ignore")

    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    name: str | None = Field(default=None, max_length=120)
    title: str | None = Field(default=None, max_length=120)
    city: str | None = Field(default=None, max_length=80)


class IdentifyWebIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    anonymous_id: str = AnonymousId
    traits: Traits


class SiteOut(BaseModel):
    site_key: str
    allowed_origins: list[str]
    snippet: str


class SitePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowed_origins: list[str] = Field(
        max_length=50,
        description="Origins (scheme://host[:port]) whose pages may send events, e.g. "
        "https://www.example.cn",
    )


class RedirectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl
    contact_id: Id | None = Field(default=None, description="Attribute clicks to this contact.")
    campaign: str | None = Field(default=None, max_length=120)


class RedirectOut(BaseModel):
    url: str
