"""Pydantic shapes of contacts, identities, consent, merges and custom fields in the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from guanxi.contact import normalise
from guanxi.contact.fields import KEY, FieldType
from guanxi.event.schemas import EventIn
from guanxi.kit.schema import Id, Patch, TimeZoneName


def _phone(value: str) -> str:
    return normalise.phone(value)


def _email(value: str) -> str:
    return normalise.email(value)


def _country(value: str) -> str:
    if len(value) != 2 or not value.isalpha():
        raise ValueError("an ISO 3166 two-letter country code, such as CN")
    return value.upper()


Phone = Annotated[str, Field(max_length=40, examples=["+86 138 1234 5678"]), AfterValidator(_phone)]
EmailAddress = Annotated[str, Field(max_length=254), AfterValidator(_email)]
Country = Annotated[str, AfterValidator(_country)]
Gender = Literal["female", "male", "other", "unknown"]
Channel = Literal["email", "sms", "wechat", "wecom", "whatsapp", "phone"]
IdentityKind = Literal[
    "email",
    "phone",
    "wechat_openid",
    "wechat_unionid",
    "wecom_external_userid",
    "whatsapp",
    "anonymous_id",
    "external_id",
]

STANDARD_FIELDS = (
    "name",
    "email",
    "phone",
    "title",
    "gender",
    "city",
    "province",
    "country",
    "language",
    "timezone",
    "owner_id",
    "source",
    "stage",
)


class ContactFields(BaseModel):
    """The standard fields (C2), all optional; ``custom`` holds the workspace's own fields."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    email: EmailAddress | None = None
    phone: Phone | None = Field(default=None, description="Normalised to E.164; default region CN.")
    title: str | None = Field(default=None, max_length=120)
    gender: Gender | None = None
    city: str | None = Field(default=None, max_length=80)
    province: str | None = Field(default=None, max_length=80)
    country: Country | None = None
    language: str | None = Field(default=None, max_length=16, examples=["zh-CN"])
    timezone: TimeZoneName | None = None
    owner_id: Id | None = None
    source: str | None = Field(default=None, max_length=120)
    stage: str | None = Field(default=None, max_length=32)
    custom: dict[str, Any] = Field(default_factory=dict)


class IdentityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: IdentityKind
    namespace: str | None = Field(
        default=None, max_length=64, description="OA appid, WeCom corp id or source system."
    )
    value: str = Field(min_length=1, max_length=255)


class ContactIn(ContactFields):
    identities: list[IdentityIn] = Field(default_factory=list, max_length=50)


class ContactPatch(Patch):
    nullable = frozenset(STANDARD_FIELDS) - {"name"}

    name: str | None = Field(default=None, min_length=1, max_length=120)
    email: EmailAddress | None = None
    phone: Phone | None = None
    title: str | None = Field(default=None, max_length=120)
    gender: Gender | None = None
    city: str | None = Field(default=None, max_length=80)
    province: str | None = Field(default=None, max_length=80)
    country: Country | None = None
    language: str | None = Field(default=None, max_length=16)
    timezone: TimeZoneName | None = None
    owner_id: Id | None = None
    source: str | None = Field(default=None, max_length=120)
    stage: str | None = Field(default=None, max_length=32)
    custom: dict[str, Any] | None = Field(
        default=None, description="Keys to set; a null value clears that key."
    )


class IdentityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    kind: IdentityKind
    namespace: str
    value: str
    source: str | None
    created_at: datetime


class ConsentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    channel: Channel
    status: Literal["opt_in", "opt_out"]
    source: str | None
    updated_at: datetime


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["opt_in", "opt_out"]
    source: str | None = Field(default=None, max_length=120)


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    name: str | None
    email: str | None
    phone: str | None
    title: str | None
    gender: Gender | None
    city: str | None
    province: str | None
    country: str | None
    language: str | None
    timezone: str | None
    owner_id: Id | None
    source: str | None
    stage: str | None
    custom: dict[str, Any]
    first_touch: dict[str, Any] | None = Field(
        description="Where the contact first came from: at, type, channel, utm_*, "
        "channel_code, referrer, url (set from events)."
    )
    last_touch: dict[str, Any] | None = Field(description="The latest touch, same shape.")
    status: Literal["active", "merged"]
    merged_into_id: Id | None
    created_at: datetime
    updated_at: datetime


class MergeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    survivor_id: Id
    merged_id: Id
    reason: str
    actor_id: Id | None
    created_at: datetime
    undone_at: datetime | None


class IdentifyIn(BaseModel):
    """Who someone is, as a channel, a form or an integration knows them."""

    model_config = ConfigDict(extra="forbid")

    identities: list[IdentityIn] = Field(min_length=1, max_length=50)
    attributes: ContactFields = Field(default_factory=ContactFields)
    overwrite: bool = Field(
        default=False, description="Replace fields that already have values (default: fill gaps)."
    )
    source: str | None = Field(default=None, max_length=120)
    events: list[EventIn] = Field(default_factory=list, max_length=100)


class IdentifyOut(BaseModel):
    contact: ContactOut
    created: bool
    merges: list[MergeOut]
    events_recorded: int


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    other_id: Id = Field(description="The contact to merge into this one (this one survives).")


class CustomFieldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: Literal["contact", "account"]
    key: str = Field(pattern=KEY.pattern, examples=["budget_cny"])
    label: str = Field(min_length=1, max_length=120)
    type: FieldType
    options: list[str] = Field(default_factory=list, max_length=200)
    required: bool = False

    @model_validator(mode="after")
    def _options(self) -> CustomFieldIn:
        if self.type in (FieldType.select, FieldType.multi_select) and not self.options:
            raise ValueError("select fields need options")
        return self


class CustomFieldPatch(Patch):
    label: str | None = Field(default=None, min_length=1, max_length=120)
    options: list[str] | None = Field(default=None, max_length=200)
    required: bool | None = None


class CustomFieldOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    object: Literal["contact", "account"]
    key: str
    label: str
    type: FieldType
    options: list[str]
    required: bool
    created_at: datetime
