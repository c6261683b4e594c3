"""Shapes of the consent and suppression API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from guanxi.consent.suppression import MAX_ADD
from guanxi.contact.schemas import Channel
from guanxi.kit.schema import Id

Reason = Literal["bounce", "complaint", "unsubscribe", "manual"]


class SuppressionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    channel: Channel
    address: str
    reason: Reason
    source: str | None
    note: str | None
    created_by: Id | None
    created_at: datetime


class SuppressionIn(BaseModel):
    """One address (``address``) or many (``addresses``, up to 10,000), all on one channel."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    address: str | None = Field(default=None, min_length=1, max_length=254)
    addresses: list[str] = Field(default_factory=list, max_length=MAX_ADD)
    reason: Reason = "manual"
    note: str | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _one_or_many(self) -> SuppressionIn:
        if (self.address is None) == (not self.addresses):
            raise ValueError("give either address or addresses")
        return self

    def all(self) -> list[str]:
        return [self.address] if self.address is not None else self.addresses


class AddedOut(BaseModel):
    """``added``: new on the list; ``existing``: on it already; ``invalid``: lines of a file
    that held no valid address (``invalid_examples``: the first few)."""

    added: int
    existing: int
    invalid: int = 0
    invalid_examples: list[str] = Field(default_factory=list)


class ChannelConsentOut(BaseModel):
    """A contact's consent on one channel: what they said (``status``, null when they never
    did), where and when, and whether marketing may reach them there under the workspace's
    sending policy (``marketing``; ``blocked_by``: ``opted_out`` or ``no_opt_in``)."""

    channel: Channel
    status: Literal["opt_in", "opt_out"] | None
    source: str | None
    updated_at: datetime | None
    marketing: bool
    blocked_by: Literal["opted_out", "no_opt_in"] | None
