"""Shapes of the webhooks API: endpoints (their secret shown once), deliveries and attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from guanxi.errors import InvalidValue
from guanxi.i18n import N_
from guanxi.kit.schema import Id, Patch

ALL = "*"


def _url(value: str) -> str:
    try:
        parts = urlsplit(value)
        port = parts.port  # raises on a port that is not a number
        httpx.URL(value)  # what sends it must read it too
    except (ValueError, httpx.InvalidURL) as exc:
        raise InvalidValue(N_("not a valid URL")) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise InvalidValue(N_("give an http:// or https:// URL with a host"))
    if any(c.isspace() for c in value):
        raise InvalidValue(N_("a URL has no spaces"))
    return value


Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=8, max_length=2000),
    AfterValidator(_url),
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
EventName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^([a-z][a-z0-9_.]*|\*)$"
    ),
]
EventTypes = Annotated[
    list[EventName],
    Field(
        min_length=1,
        max_length=100,
        description='Event type names the endpoint receives, or ["*"] for every type.',
    ),
]
Status = Literal["enabled", "failing", "disabled"]
DeliveryStatus = Literal["pending", "delivering", "delivered", "failed"]


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    description: Description | None = None
    event_types: EventTypes
    enabled: bool = True


class EndpointPatch(Patch):
    """Change the URL, description or subscriptions; ``enabled: true`` turns a disabled
    endpoint on again (its failure count starts over), ``false`` turns it off."""

    nullable = frozenset({"description"})

    url: Url | None = None
    description: Description | None = None
    event_types: EventTypes | None = None
    enabled: bool | None = None


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    status: Status = Field(
        default="enabled",
        description="enabled; failing (its last attempts failed); disabled (by a member, "
        "because it kept failing, or because it answered 410 Gone).",
    )
    failures: int = Field(description="Attempts failed in a row since the last success.")
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: Literal["manual", "failing", "gone"] | None
    created_at: datetime


class EndpointCreated(EndpointOut):
    secret: str = Field(
        description="The signing secret. Shown only now (and when rotated): keep it."
    )


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    n: int
    at: datetime
    status_code: int | None = Field(description="The HTTP status answered; none: no answer.")
    error: str | None
    ms: float | None = Field(description="How long the request took, in milliseconds.")
    response: str | None = Field(description="The start of the answer's body.")


class DeliveryOut(BaseModel):
    id: Id = Field(description="Sent as Guanxi-Delivery, the same on every retry.")
    endpoint_id: Id
    event_id: Id | None
    event_type: str
    payload: dict[str, Any]
    status: DeliveryStatus
    attempt_count: int
    due_at: datetime = Field(description="When the next attempt is due (while pending).")
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempts: list[AttemptOut]
