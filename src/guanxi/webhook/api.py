"""Routes for outbound webhooks: endpoints, their secrets, test pings and the delivery log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, cast

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.http.deps import DB, Actor, Listing
from guanxi.http.errors import errors
from guanxi.kit.clock import utcnow
from guanxi.kit.page import Page
from guanxi.kit.schema import Id
from guanxi.models import WebhookDelivery, WebhookEndpoint
from guanxi.webhook import service, targets
from guanxi.webhook.schemas import (
    AttemptOut,
    DeliveryOut,
    DeliveryStatus,
    EndpointCreated,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
)

router = APIRouter(tags=["webhooks"])


def endpoint_out(endpoint: WebhookEndpoint) -> EndpointOut:
    return EndpointOut.model_validate(endpoint).model_copy(
        update={"status": service.status_of(endpoint)}
    )


def created_out(endpoint: WebhookEndpoint, secret: str) -> EndpointCreated:
    return EndpointCreated(**endpoint_out(endpoint).model_dump(), secret=secret)


def deliveries_out(
    session: Session, actor: Principal, rows: Sequence[WebhookDelivery]
) -> list[DeliveryOut]:
    attempts = service.attempts_of(session, actor.workspace_id, (d.id for d in rows))
    return [
        DeliveryOut(
            id=d.id,
            endpoint_id=d.endpoint_id,
            event_id=d.event_id,
            event_type=d.event_type,
            payload=d.payload,
            status=cast(DeliveryStatus, d.status),
            attempt_count=d.attempts,
            due_at=d.due_at,
            last_status=d.last_status,
            last_error=d.last_error,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
            attempts=[AttemptOut.model_validate(a) for a in attempts.get(d.id, [])],
        )
        for d in rows
    ]


def _secret_key(request: Request) -> str:
    return str(request.app.state.settings.secret_key)


def _allowed(request: Request) -> list[targets.Network]:
    return list(request.app.state.settings.webhook_allowed_networks)


@router.get("/webhooks", response_model=Page[EndpointOut])
def list_endpoints(actor: Actor, session: DB) -> Page[EndpointOut]:
    """Every endpoint, oldest first (a workspace has a handful: one page)."""
    items = [endpoint_out(e) for e in service.list_endpoints(session, actor)]
    return Page(items=items, next_cursor=None)


@router.post("/webhooks", response_model=EndpointCreated, status_code=201, responses=errors(422))
def create_endpoint(
    data: EndpointIn, request: Request, actor: Actor, session: DB
) -> EndpointCreated:
    """An endpoint receiving the events of ``event_types`` (names from the event catalogue, or
    ``["*"]`` for all; unknown names are 422 ``unknown_event_type``) as signed POSTs. The answer
    holds its signing ``secret``, shown this once. Every request carries
    ``Guanxi-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``,
    ``Guanxi-Timestamp``, ``Guanxi-Event`` and ``Guanxi-Delivery`` (the same on every retry:
    dedupe on it). Failed deliveries are retried after 30 s, 2 min, 10 min, 1 h, 6 h and then
    daily, 8 attempts in all; an endpoint that answers 410, or fails 20 times in a row for over
    24 hours, is disabled. A URL with a user name or password, or whose host is or resolves to
    an address on this server or a private network (loopback, private, link-local — such as
    a cloud metadata service —, multicast, reserved), is 422 ``webhook_url_not_allowed``
    unless the installation allows that network; every delivery checks the address again,
    and redirects are not followed."""
    endpoint, secret = service.create_endpoint(
        session, actor, data, _secret_key(request), utcnow(), allowed=_allowed(request)
    )
    return created_out(endpoint, secret)


@router.get("/webhooks/{webhook_id}", response_model=EndpointOut)
def get_endpoint(webhook_id: Id, actor: Actor, session: DB) -> EndpointOut:
    return endpoint_out(service.get_endpoint(session, actor, webhook_id))


@router.patch("/webhooks/{webhook_id}", response_model=EndpointOut, responses=errors(422))
def update_endpoint(
    webhook_id: Id, data: EndpointPatch, request: Request, actor: Actor, session: DB
) -> EndpointOut:
    """Change the URL (checked as on creation: 422 ``webhook_url_not_allowed``), description
    or event types; ``enabled: false`` turns it off (its pending deliveries fail), ``true`` on
    again (the failure count starts over)."""
    endpoint = service.update_endpoint(
        session, actor, webhook_id, data.changes(), utcnow(), allowed=_allowed(request)
    )
    return endpoint_out(endpoint)


@router.delete("/webhooks/{webhook_id}", status_code=204)
def delete_endpoint(webhook_id: Id, actor: Actor, session: DB) -> Response:
    """Delete the endpoint and its delivery log."""
    service.delete_endpoint(session, actor, webhook_id)
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/rotate-secret", response_model=EndpointCreated)
def rotate_secret(webhook_id: Id, request: Request, actor: Actor, session: DB) -> EndpointCreated:
    """A new signing secret, shown this once; requests are signed with it from now on."""
    endpoint, secret = service.rotate_secret(session, actor, webhook_id, _secret_key(request))
    return created_out(endpoint, secret)


@router.post(
    "/webhooks/{webhook_id}/test",
    response_model=DeliveryOut,
    status_code=202,
    responses=errors(409),
)
def send_test(webhook_id: Id, actor: Actor, session: DB) -> DeliveryOut:
    """Queue a ``ping`` delivery to the endpoint (409 ``endpoint_disabled`` when it is off);
    its result shows in the delivery log within seconds."""
    delivery = service.send_test(session, actor, webhook_id, utcnow())
    return deliveries_out(session, actor, [delivery])[0]


@router.get("/webhooks/{webhook_id}/deliveries", response_model=Page[DeliveryOut])
def list_deliveries(
    webhook_id: Id,
    actor: Actor,
    session: DB,
    listing: Listing,
    status: Annotated[DeliveryStatus | None, Query()] = None,
) -> Page[DeliveryOut]:
    """The endpoint's deliveries, newest first, each with its attempts (status code, error,
    duration, the start of the answer)."""
    rows, cursor = service.list_deliveries(
        session, actor, webhook_id, status=status, limit=listing.limit, cursor=listing.cursor
    )
    items = deliveries_out(session, actor, [r.WebhookDelivery for r in rows])
    return Page(items=items, next_cursor=cursor)


@router.post(
    "/webhook-deliveries/{delivery_id}/redeliver",
    response_model=DeliveryOut,
    status_code=202,
    responses=errors(409),
)
def redeliver(delivery_id: Id, actor: Actor, session: DB) -> DeliveryOut:
    """Send a delivery again now, same id and body (409 ``endpoint_disabled`` while its
    endpoint is off, ``delivery_in_progress`` while it is being sent)."""
    delivery = service.redeliver(session, actor, delivery_id, utcnow())
    return deliveries_out(session, actor, [delivery])[0]
