"""Webhook endpoints: subscriptions to event types, their signing secrets, enabling and
disabling, and their delivery log (redeliver, test ping).

A secret is generated here, returned once (on create and on rotate) and stored sealed with the
installation's secret key; a rotation takes effect at the next attempt. Event types are checked
against the workspace's catalogue (built-in types and its own); ``["*"]`` is every type. A URL
on this server or a private network is refused unless the installation allows it (``targets``).

Disabling an endpoint — by a member, by the circuit breaker (``dispatch``) or because it
answered 410 Gone — also fails its pending deliveries (``last_error`` says why): a disabled
endpoint is no backlog. Each can be redelivered once the endpoint is on again; nothing is
queued for it while it is off. Turning it on starts its failure count over.

Shaping endpoints needs ``webhooks:write``; reading them and their deliveries ``webhooks:read``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.errors import Conflict, GuanxiError, NotFound
from guanxi.event import catalogue
from guanxi.event import types as event_types
from guanxi.i18n import N_
from guanxi.journey import references as journeys
from guanxi.kit.crypto import seal, unseal
from guanxi.kit.pagination import SortSpec, paginate
from guanxi.kit.secrets import new_token
from guanxi.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from guanxi.webhook import fanout, targets
from guanxi.webhook.schemas import ALL, EndpointIn, Status

STOPPED = "endpoint disabled"  # last_error of the deliveries a disabled endpoint leaves
PING = "ping"


class UnknownEventTypes(GuanxiError):
    status = 422
    code = "unknown_event_type"
    message = N_("Unknown event types: {names}.")


class EndpointDisabled(Conflict):
    code = "endpoint_disabled"
    message = N_("The endpoint is disabled: turn it on first.")


class DeliveryInProgress(Conflict):
    code = "delivery_in_progress"
    message = N_("This delivery is being sent right now.")


def status_of(endpoint: WebhookEndpoint) -> Status:
    if not endpoint.enabled:
        return "disabled"
    return "failing" if endpoint.failures else "enabled"


def new_secret() -> str:
    return "whsec_" + new_token(24)


def secret_of(secret_key: str, endpoint: WebhookEndpoint) -> str:
    """The endpoint's signing secret, unsealed (``ValueError`` under another secret key)."""
    return unseal(secret_key, endpoint.secret)


def event_type_names(session: Session, actor: Principal) -> list[str]:
    """Every type an endpoint may subscribe to: the built-in ones and the workspace's."""
    own = [t.name for t in event_types.list_types(session, actor)]
    return sorted({*catalogue.BUILTIN, *own})


def _checked(session: Session, workspace_id: int, names: Iterable[str]) -> list[str]:
    """The names, deduplicated and sorted (``*`` alone when given); 422 naming the unknown."""
    wanted = set(names)
    if ALL in wanted:
        return [ALL]
    unknown = wanted - set(event_types.specs(session, workspace_id, wanted))
    if unknown:
        listed = ", ".join(sorted(unknown))
        raise UnknownEventTypes(names=listed, details={"event_types": sorted(unknown)})
    return sorted(wanted)


# -- endpoints -------------------------------------------------------------------------------


def list_endpoints(session: Session, actor: Principal) -> Sequence[WebhookEndpoint]:
    actor.require("webhooks:read")
    return session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.workspace_id == actor.workspace_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    ).all()


def get_endpoint(session: Session, actor: Principal, endpoint_id: int) -> WebhookEndpoint:
    actor.require("webhooks:read")
    endpoint = session.get(WebhookEndpoint, (actor.workspace_id, endpoint_id))
    if endpoint is None:
        raise NotFound(resource=N_("Webhook endpoint"))
    return endpoint


def _writable(session: Session, actor: Principal, endpoint_id: int) -> WebhookEndpoint:
    actor.require("webhooks:write")
    return get_endpoint(session, actor, endpoint_id)


def create_endpoint(
    session: Session,
    actor: Principal,
    data: EndpointIn,
    secret_key: str,
    now: datetime,
    *,
    allowed: Sequence[targets.Network] = (),
) -> tuple[WebhookEndpoint, str]:
    """The endpoint and its secret in clear (shown this once). A URL webhooks may not reach
    is refused (``targets.check_url``; ``allowed``: the networks the installation allows)."""
    actor.require("webhooks:write")
    names = _checked(session, actor.workspace_id, data.event_types)
    targets.check_url(data.url, allowed)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        workspace_id=actor.workspace_id,
        url=data.url,
        description=data.description or None,
        event_types=names,
        secret=seal(secret_key, secret),
        enabled=data.enabled,
        failures=0,
        disabled_at=None if data.enabled else now,
        disabled_reason=None if data.enabled else "manual",
        created_by=actor.user_id,
        created_at=now,
    )
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def update_endpoint(
    session: Session,
    actor: Principal,
    endpoint_id: int,
    changes: dict[str, Any],
    now: datetime,
    *,
    allowed: Sequence[targets.Network] = (),
) -> WebhookEndpoint:
    """Apply ``changes``; a new URL is checked as on creation."""
    endpoint = _writable(session, actor, endpoint_id)
    if "event_types" in changes:
        endpoint.event_types = _checked(session, actor.workspace_id, changes["event_types"])
    if "url" in changes:
        targets.check_url(changes["url"], allowed)
        endpoint.url = changes["url"]
    if "description" in changes:
        endpoint.description = changes["description"] or None
    enabled = changes.get("enabled")
    if enabled is True and not endpoint.enabled:
        endpoint.enabled, endpoint.failures, endpoint.failing_since = True, 0, None
        endpoint.disabled_at = endpoint.disabled_reason = None
    elif enabled is False and endpoint.enabled:
        disable(session, endpoint, "manual", now)
    session.flush()
    return endpoint


def disable(session: Session, endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    """Turn the endpoint off (``manual``, ``failing`` or ``gone``) and fail what it had
    pending. Deliveries being sent finish their attempt; their result is kept."""
    endpoint.enabled, endpoint.disabled_at, endpoint.disabled_reason = False, now, reason
    session.flush()
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.workspace_id == endpoint.workspace_id,
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.status == "pending",
        )
        .values(status="failed", last_error=STOPPED)
    )


class WebhookInUse(Conflict):
    code = "webhook_in_use"
    message = N_("{name} posts to this webhook: change that first.")


def delete_endpoint(session: Session, actor: Principal, endpoint_id: int) -> None:
    """Delete the endpoint with its deliveries and their attempts (409 ``webhook_in_use`` while
    a journey's webhook step posts to it)."""
    endpoint = _writable(session, actor, endpoint_id)
    ws = actor.workspace_id
    user = journeys.using(session, ws, "webhooks", endpoint.id)
    if user is not None:
        raise WebhookInUse(name=user)
    deliveries = select(WebhookDelivery.id).where(
        WebhookDelivery.workspace_id == ws, WebhookDelivery.endpoint_id == endpoint.id
    )
    session.execute(
        delete(WebhookAttempt).where(
            WebhookAttempt.workspace_id == ws, WebhookAttempt.delivery_id.in_(deliveries)
        )
    )
    session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.workspace_id == ws, WebhookDelivery.endpoint_id == endpoint.id
        )
    )
    session.delete(endpoint)
    session.flush()


def rotate_secret(
    session: Session, actor: Principal, endpoint_id: int, secret_key: str
) -> tuple[WebhookEndpoint, str]:
    """A new secret, in clear this once; the old one signs nothing from now on."""
    endpoint = _writable(session, actor, endpoint_id)
    secret = new_secret()
    endpoint.secret = seal(secret_key, secret)
    session.flush()
    return endpoint, secret


def send_test(
    session: Session, actor: Principal, endpoint_id: int, now: datetime
) -> WebhookDelivery:
    """Queue a ``ping`` to the endpoint, due now (the worker sends it within seconds)."""
    endpoint = _writable(session, actor, endpoint_id)
    if not endpoint.enabled:
        raise EndpointDisabled()
    data = {"endpoint_id": str(endpoint.id), "test": True}
    delivery_id = fanout.queue(session, actor.workspace_id, endpoint.id, PING, data, now=now)
    assert delivery_id is not None  # enabled, in this workspace
    return get_delivery(session, actor, delivery_id)


# -- deliveries ------------------------------------------------------------------------------

DELIVERY_SORT = SortSpec(
    fields={"created_at": WebhookDelivery.created_at},
    tiebreak=WebhookDelivery.id,
    default="-created_at",
)


def list_deliveries(
    session: Session,
    actor: Principal,
    endpoint_id: int,
    *,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Row[Any]], str | None]:
    """The endpoint's deliveries, newest first (rows of ``WebhookDelivery``)."""
    endpoint = get_endpoint(session, actor, endpoint_id)
    stmt = select(WebhookDelivery).where(
        WebhookDelivery.workspace_id == actor.workspace_id,
        WebhookDelivery.endpoint_id == endpoint.id,
    )
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    return paginate(session, stmt, DELIVERY_SORT, sort=None, limit=limit, cursor=cursor)


def attempts_of(
    session: Session, workspace_id: int, delivery_ids: Iterable[int]
) -> dict[int, list[WebhookAttempt]]:
    """Each delivery's attempts, in order (one query for a page of deliveries)."""
    found: dict[int, list[WebhookAttempt]] = {}
    ids = sorted(set(delivery_ids))
    if not ids:
        return found
    stmt = (
        select(WebhookAttempt)
        .where(WebhookAttempt.workspace_id == workspace_id, WebhookAttempt.delivery_id.in_(ids))
        .order_by(WebhookAttempt.delivery_id, WebhookAttempt.n)
    )
    for attempt in session.scalars(stmt):
        found.setdefault(attempt.delivery_id, []).append(attempt)
    return found


def get_delivery(session: Session, actor: Principal, delivery_id: int) -> WebhookDelivery:
    actor.require("webhooks:read")
    delivery = session.get(WebhookDelivery, (actor.workspace_id, delivery_id))
    if delivery is None:
        raise NotFound(resource=N_("Webhook delivery"))
    return delivery


def redeliver(
    session: Session, actor: Principal, delivery_id: int, now: datetime
) -> WebhookDelivery:
    """Send a delivery again now, with the same id and body. A delivery with attempts left
    resumes its retries; one that used them all gets this one attempt more."""
    actor.require("webhooks:write")
    delivery = get_delivery(session, actor, delivery_id)
    endpoint = session.get(WebhookEndpoint, (actor.workspace_id, delivery.endpoint_id))
    if endpoint is None or not endpoint.enabled:
        raise EndpointDisabled()
    if delivery.status == "delivering":
        raise DeliveryInProgress()
    delivery.status, delivery.due_at, delivery.delivered_at = "pending", now, None
    delivery.claimed_by = delivery.lease_until = None
    session.flush()
    return delivery
