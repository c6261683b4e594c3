"""Helpers for the webhook tests: endpoints through the API, events fanned out as the reactor
pipeline does, delivery rounds at a chosen time, and the rows they leave."""

from __future__ import annotations

from datetime import datetime
from ipaddress import ip_network
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from guanxi.event.records import Stored
from guanxi.kit.ids import new_id
from guanxi.models import Notification, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from guanxi.webhook import fanout, tasks
from tests.factories import Tenant
from tests.tag.client import Api

SHORT_WAIT_S = 0.5  # how long a round waits for a receiver that says nothing
LOOPBACK = [ip_network("127.0.0.0/8"), ip_network("::1/128")]  # where the receivers listen


def add_endpoint(api: Api, url: str, *types: str, expect: int = 201) -> dict[str, Any]:
    """An endpoint for ``types`` (default: every type); its JSON, with the secret."""
    result: dict[str, Any] = api.post(
        "/webhooks", {"url": url, "event_types": list(types) or ["*"]}, expect
    )
    return result


def event(contact_id: str | int, type: str, now: datetime, **properties: Any) -> Stored:
    return Stored(new_id(), int(contact_id), type, now, properties, "web", "test")


def fan_out(tenant: Tenant, events: list[Stored], now: datetime) -> None:
    """What the reactor pipeline does with a stored batch."""
    with tenant.session() as s:
        assert fanout.react(s, tenant.workspace_id, events, now) == []


def deliver(app: FastAPI, now: datetime, **kwargs: Any) -> int:
    """Delivery rounds at ``now`` until nothing is due, reaching the networks ``app``'s
    settings allow; how many deliveries were claimed."""
    key = app.state.settings.secret_key
    kwargs.setdefault("timeout_s", SHORT_WAIT_S)
    kwargs.setdefault("allowed", app.state.settings.webhook_allowed_networks)
    claimed = 0
    while n := tasks.run_due(app.state.sessionmaker, now, secret_key=key, **kwargs):
        claimed += n
    return claimed


def deliveries(tenant: Tenant, endpoint_id: str | int | None = None) -> list[WebhookDelivery]:
    """The workspace's deliveries (of one endpoint), oldest first."""
    with tenant.session() as s:
        stmt = select(WebhookDelivery).where(WebhookDelivery.workspace_id == tenant.workspace_id)
        if endpoint_id is not None:
            stmt = stmt.where(WebhookDelivery.endpoint_id == int(endpoint_id))
        return list(s.scalars(stmt.order_by(WebhookDelivery.created_at, WebhookDelivery.id)))


def attempts(tenant: Tenant, delivery_id: int) -> list[WebhookAttempt]:
    with tenant.session() as s:
        return list(
            s.scalars(
                select(WebhookAttempt)
                .where(
                    WebhookAttempt.workspace_id == tenant.workspace_id,
                    WebhookAttempt.delivery_id == delivery_id,
                )
                .order_by(WebhookAttempt.n)
            )
        )


def endpoint_row(tenant: Tenant, endpoint_id: str | int) -> WebhookEndpoint | None:
    with tenant.session() as s:
        return s.get(WebhookEndpoint, (tenant.workspace_id, int(endpoint_id)))


def notes(tenant: Tenant, user_id: int) -> list[Notification]:
    with tenant.session() as s:
        return list(
            s.scalars(
                select(Notification).where(
                    Notification.workspace_id == tenant.workspace_id,
                    Notification.user_id == user_id,
                )
            )
        )
