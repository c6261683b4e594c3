"""Pydantic shapes of forms and submissions.

A field's ``key`` says where its answer goes: a standard contact field (``name``, ``email``,
``phone``, ``title``, ``city`` …), a custom field (``custom.<key>``), the company
(``company``, ``company_domain``: the contact is put at that account), consent to a channel
(``consent.<channel>``, a checkbox), or nowhere but the submission (``extra.<key>``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from guanxi.i18n import Language
from guanxi.kit.schema import Id

FieldType = Literal[
    "text",
    "email",
    "phone",
    "number",
    "textarea",
    "select",
    "checkbox",
    "date",
    "consent",
    "hidden",
]
STANDARD_TARGETS = frozenset(
    {"name", "email", "phone", "title", "gender", "city", "province", "country", "language"}
)
CHANNELS = frozenset({"email", "sms", "wechat", "wecom", "whatsapp", "phone"})
KEY_PATTERN = r"^(?:[a-z_]+|custom\.[a-z][a-z0-9_]*|consent\.[a-z]+|extra\.[a-z][a-z0-9_]*)$"


class FormField(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(max_length=70, pattern=KEY_PATTERN)
    label: str = Field(min_length=1, max_length=200)
    type: FieldType = "text"
    required: bool = False
    options: list[str] = Field(default_factory=list, max_length=100)
    value: str | None = Field(default=None, max_length=200, description="A hidden field's value.")

    @model_validator(mode="after")
    def _target(self) -> FormField:
        plain = "." not in self.key
        if plain and self.key not in STANDARD_TARGETS | {"company", "company_domain"}:
            raise ValueError(f"unknown field target {self.key!r}")
        if self.key.startswith("consent.") != (self.type == "consent"):
            raise ValueError("consent fields are consent.<channel> with type consent")
        if self.type == "consent" and self.key.removeprefix("consent.") not in CHANNELS:
            raise ValueError(f"unknown channel in {self.key!r}")
        if self.type == "select" and not self.options:
            raise ValueError("a select field needs options")
        if self.type == "hidden" and self.value is None:
            raise ValueError("a hidden field needs a value")
        return self


class FormSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thank_you: str | None = Field(default=None, max_length=500)
    redirect_url: HttpUrl | None = None
    progressive: bool = Field(
        default=True, description="Do not ask a known visitor for what their profile has."
    )
    source: str | None = Field(default=None, max_length=120, description="Source of new contacts.")
    per_ip_per_hour: int = Field(default=10, ge=1, le=10_000)


class FormIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    language: Language = "zh_CN"
    fields: list[FormField] = Field(min_length=1, max_length=40)
    settings: FormSettings = Field(default_factory=FormSettings)

    @model_validator(mode="after")
    def _identifies(self) -> FormIn:
        keys = [f.key for f in self.fields]
        if len(set(keys)) != len(keys):
            raise ValueError("each field key may appear once")
        if not {"email", "phone"} & set(keys):
            raise ValueError("a form needs an email or a phone field to know who submitted it")
        return self


class FormOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    public_key: str
    name: str
    language: Language
    status: str
    fields: list[FormField]
    settings: FormSettings
    created_at: datetime
    updated_at: datetime
    url: str = ""
    embed: str = ""


class PublicField(BaseModel):
    key: str
    label: str
    type: FieldType
    required: bool
    options: list[str]


class PublicForm(BaseModel):
    """What a page needs to draw the form (known answers left out for a known visitor)."""

    name: str
    language: Language
    fields: list[PublicField]
    submit_label: str
    honeypot: str


class SubmissionIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    values: dict[str, Any] = Field(default_factory=dict)
    anonymous_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    context: dict[str, Any] = Field(default_factory=dict)


class SubmissionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    form_id: Id
    contact_id: Id
    values: dict[str, Any]
    context: dict[str, Any]
    created_at: datetime


class Accepted(BaseModel):
    message: str
    redirect_url: str | None
    rotate: bool
