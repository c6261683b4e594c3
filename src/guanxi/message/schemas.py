"""Pydantic shapes of channel accounts, templates, messages, the sending policy and broadcasts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from guanxi.kit.schema import Id

Channel = Literal["email", "sms", "wecom", "wechat", "whatsapp"]
Clock = str  # "HH:MM"


class AccountIn(BaseModel):
    """``config``: the connector's settings (``GET /connectors`` lists each connector's);
    secrets (passwords, keys) are stored encrypted and never shown again — leave one out on an
    update to keep it."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    kind: str = Field(min_length=1, max_length=24)
    name: str = Field(min_length=1, max_length=120)
    config: dict[str, Any] = Field(default_factory=dict)
    is_default: bool = False
    rate_per_s: float | None = Field(default=None, gt=0, le=100_000)
    enabled: bool = True


class AccountOut(BaseModel):
    id: Id
    channel: str
    kind: str
    name: str
    config: dict[str, Any]
    secrets_set: list[str]
    is_default: bool
    rate_per_s: float | None
    enabled: bool
    updated_at: datetime


class ConnectorOut(BaseModel):
    kind: str
    settings: dict[str, Any]  # the JSON schema of its Config
    secrets: list[str]


class TemplateIn(BaseModel):
    """Subject, HTML and text are Jinja templates (sandboxed): ``{{ contact.name }}``,
    ``{{ contact.custom.plan }}``, ``{{ account.name }}``, ``{{ sender.name }}``,
    ``{{ unsubscribe_url }}``, ``{{ preferences_url }}``, with defaults for missing values:
    ``{{ contact.name | default("朋友") }}``. Without ``text`` an email gets one made from
    the HTML."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    name: str = Field(min_length=1, max_length=120)
    subject: str | None = Field(default=None, max_length=300)
    html: str | None = Field(default=None, max_length=500_000)
    text: str | None = Field(default=None, max_length=100_000)
    data: dict[str, Any] = Field(default_factory=dict)


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    channel: str
    name: str
    subject: str | None
    html: str | None
    text: str | None
    data: dict[str, Any]
    revision: int
    updated_at: datetime


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_id: Id


class PreviewOut(BaseModel):
    subject: str
    html: str
    text: str


class SendIn(BaseModel):
    """One message to one contact. ``key``: your idempotency key — sending the same key again
    returns the first message and sends nothing. ``marketing`` messages obey consent, quiet
    hours and frequency caps; transactional ones (the default) only suppression."""

    model_config = ConfigDict(extra="forbid")

    contact_id: Id
    template_id: Id
    marketing: bool = False
    key: str | None = Field(default=None, min_length=1, max_length=120)
    variables: dict[str, Any] = Field(default_factory=dict)


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    n: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    detail: str | None


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    key: str
    channel: str
    contact_id: Id | None
    to_address: str | None
    template_id: Id | None
    marketing: bool
    status: str
    reason: str | None
    due_at: datetime
    attempts: int
    journey_id: Id | None
    node_id: str | None
    broadcast_id: Id | None
    error: str | None
    created_at: datetime
    sent_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    bounced_at: datetime | None


class MessageDetail(MessageOut):
    tries: list[AttemptOut]


class CapIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["all", "email", "sms", "wecom", "wechat", "whatsapp"]
    count: int = Field(ge=1, le=1000)
    days: int = Field(ge=1, le=365)


class PolicyIn(BaseModel):
    """Quiet hours (marketing waits until they end, in the contact's timezone, else the
    workspace's); caps (``{"channel": "all", "count": 2, "days": 7}``: at most two marketing
    messages a week over every channel — one over the cap is skipped, reason
    ``frequency_cap``); channels that need an explicit opt-in."""

    model_config = ConfigDict(extra="forbid")

    quiet_start: Clock | None = Field(default=None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    quiet_end: Clock | None = Field(default=None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    caps: list[CapIn] = Field(default_factory=list, max_length=10)
    opt_in_channels: list[Channel] = Field(default_factory=list)

    @field_validator("opt_in_channels")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


class PolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    quiet_start: str | None
    quiet_end: str | None
    caps: list[dict[str, Any]]
    opt_in_channels: list[str]


class BroadcastIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    template_id: Id
    segment_id: Id
    marketing: bool = True


class BroadcastOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    name: str
    channel: str
    template_id: Id
    segment_id: Id
    marketing: bool
    status: str
    queued: int
    job_id: Id | None
    created_at: datetime


class InboundOut(BaseModel):
    applied: int
