"""Pydantic shapes of content and tracked links."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from guanxi.kit.schema import Id


class ContentIn(BaseModel):
    """An article guanxi hosts (``body``: plain text, paragraphs split by blank lines), whose
    readers' time and scroll are measured, or an outside page (``url``): only opens are known."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    summary: str | None = Field(default=None, max_length=500)
    body: str | None = Field(default=None, max_length=200_000)
    url: HttpUrl | None = None

    @model_validator(mode="after")
    def _one(self) -> ContentIn:
        if (self.body is None) == (self.url is None):
            raise ValueError("give a body (hosted article) or a url (outside page), one of them")
        return self


class ContentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    title: str
    summary: str | None
    body: str | None
    url: str | None
    created_by: Id | None
    created_at: datetime
    updated_at: datetime


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipient_id: Id | None = Field(default=None, description="The contact it is sent to.")
    channel_code: str | None = Field(default=None, max_length=64, description="Or a channel code.")


class LinkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    code: str
    content_id: Id
    sender_id: Id | None
    recipient_id: Id | None
    channel_code: str | None
    created_at: datetime
    url: str = ""


class ReadIn(BaseModel):
    """What the article page reports when the reader leaves."""

    model_config = ConfigDict(extra="ignore")

    anonymous_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    dwell_s: float = Field(ge=0, le=86_400)
    completion: float = Field(ge=0, le=1)
