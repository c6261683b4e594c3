"""Console screens for webhooks (a settings tab): the endpoints with their status, creating and
editing one (its secret shown once), and an endpoint's delivery log with every attempt, where a
delivery can be sent again and a test ping queued."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from guanxi.errors import GuanxiError
from guanxi.i18n import N_
from guanxi.kit.clock import utcnow
from guanxi.kit.schema import Id
from guanxi.web.nav import MODULES
from guanxi.web.render import failure, page
from guanxi.web.session import Console, ConsoleDep, PostedForm
from guanxi.webhook import dispatch
from guanxi.webhook import service as webhooks
from guanxi.webhook.schemas import ALL, EndpointIn, EndpointPatch

router = APIRouter()

STATUS_LABELS = {
    "enabled": N_("Enabled"),
    "failing": N_("Failing"),
    "disabled": N_("Disabled"),
}
REASON_LABELS = {
    "manual": N_("Turned off by a member."),
    "failing": N_("Turned off automatically: it failed 20 times in a row for over a day."),
    "gone": N_("Turned off automatically: the receiver answered 410 Gone."),
}
DELIVERY_LABELS = {
    "pending": N_("Pending"),
    "delivering": N_("Sending"),
    "delivered": N_("Delivered"),
    "failed": N_("Failed"),
}
ERROR_LABELS = {
    webhooks.STOPPED: N_("Stopped: the endpoint was turned off."),
    dispatch.UNREADABLE: N_("The signing secret cannot be read: rotate it."),
    dispatch.ABANDONED: N_("Given up: the worker stopped during every attempt."),
}
PAGE_SIZE = 20


def _text(data: FormData, name: str) -> str:
    return str(data.get(name) or "").strip()


def _definition(data: FormData) -> dict[str, Any]:
    """The endpoint form's fields: URL, description, the event types picked (none: none)."""
    return {
        "url": _text(data, "url"),
        "description": _text(data, "description") or None,
        "event_types": [str(v) for v in data.getlist("event_types")],
    }


def _context(console: Console) -> dict[str, Any]:
    return {
        "console": console,
        "modules": MODULES,
        "active": "settings",
        "tab": "webhooks",
        "all_types": ALL,
        "status_labels": STATUS_LABELS,
        "reason_labels": REASON_LABELS,
        "delivery_labels": DELIVERY_LABELS,
        "error_labels": ERROR_LABELS,
        "refused": dispatch.REFUSED,
        "event_types": webhooks.event_type_names(console.session, console.principal),
        "can_write": console.principal.can("webhooks:write"),
    }


def _list(
    request: Request, console: Console, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    endpoints = webhooks.list_endpoints(console.session, console.principal)
    return page(
        request,
        "webhooks/list.html",
        status_code,
        endpoints=[(e, webhooks.status_of(e)) for e in endpoints],
        error=error,
        **_context(console),
    )


def _detail(
    request: Request,
    console: Console,
    endpoint_id: int,
    *,
    cursor: str | None = None,
    secret: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    endpoint = webhooks.get_endpoint(console.session, console.principal, endpoint_id)
    rows, next_cursor = webhooks.list_deliveries(
        console.session, console.principal, endpoint.id, status=None, limit=PAGE_SIZE, cursor=cursor
    )
    deliveries = [r.WebhookDelivery for r in rows]
    attempts = webhooks.attempts_of(
        console.session, console.principal.workspace_id, (d.id for d in deliveries)
    )
    return page(
        request,
        "webhooks/detail.html",
        status_code,
        endpoint=endpoint,
        status=webhooks.status_of(endpoint),
        deliveries=[(d, attempts.get(d.id, [])) for d in deliveries],
        next_cursor=next_cursor,
        secret=secret,
        error=error,
        **_context(console),
    )


def _done(
    request: Request, console: Console, act: Callable[[], object], to: str, endpoint_id: int | None
) -> Response:
    """Run a change, then go to ``to``; refused, the page again with why and nothing saved."""
    try:
        act()
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        if endpoint_id is None:
            return _list(request, console, **failure(request, exc))
        return _detail(request, console, endpoint_id, **failure(request, exc))
    return RedirectResponse(to, status_code=303)


@router.get("/webhooks", response_class=HTMLResponse)
def endpoints(request: Request, console: ConsoleDep) -> HTMLResponse:
    return _list(request, console)


@router.post("/webhooks", response_class=HTMLResponse)
def create_endpoint(request: Request, console: ConsoleDep, data: PostedForm) -> Response:
    """Create an endpoint and show its page with the secret, this once."""
    try:
        endpoint, secret = webhooks.create_endpoint(
            console.session,
            console.principal,
            EndpointIn.model_validate(_definition(data)),
            request.app.state.settings.secret_key,
            utcnow(),
            allowed=request.app.state.settings.webhook_allowed_networks,
        )
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return _list(request, console, **failure(request, exc))
    return _detail(request, console, endpoint.id, secret=secret, status_code=201)


@router.get("/webhooks/{webhook_id}", response_class=HTMLResponse)
def endpoint_page(
    request: Request, console: ConsoleDep, webhook_id: Id, cursor: str | None = None
) -> HTMLResponse:
    return _detail(request, console, webhook_id, cursor=cursor)


@router.post("/webhooks/{webhook_id}", response_class=HTMLResponse)
def update_endpoint(
    request: Request, console: ConsoleDep, webhook_id: Id, data: PostedForm
) -> Response:
    webhooks.get_endpoint(console.session, console.principal, webhook_id)  # 404 before the form
    return _done(
        request,
        console,
        lambda: webhooks.update_endpoint(
            console.session,
            console.principal,
            webhook_id,
            EndpointPatch.model_validate(_definition(data)).changes(),
            utcnow(),
            allowed=request.app.state.settings.webhook_allowed_networks,
        ),
        f"/app/webhooks/{webhook_id}",
        webhook_id,
    )


@router.post("/webhooks/{webhook_id}/enabled", response_class=HTMLResponse)
def enable_endpoint(
    request: Request, console: ConsoleDep, webhook_id: Id, data: PostedForm
) -> Response:
    enabled = data.get("enabled") == "1"
    return _done(
        request,
        console,
        lambda: webhooks.update_endpoint(
            console.session, console.principal, webhook_id, {"enabled": enabled}, utcnow()
        ),
        f"/app/webhooks/{webhook_id}",
        webhook_id,
    )


@router.post("/webhooks/{webhook_id}/rotate", response_class=HTMLResponse)
def rotate_secret(request: Request, console: ConsoleDep, webhook_id: Id) -> Response:
    """A new secret, shown on the endpoint's page this once."""
    try:
        _, secret = webhooks.rotate_secret(
            console.session, console.principal, webhook_id, request.app.state.settings.secret_key
        )
    except GuanxiError as exc:
        console.session.rollback()
        return _detail(request, console, webhook_id, **failure(request, exc))
    return _detail(request, console, webhook_id, secret=secret)


@router.post("/webhooks/{webhook_id}/test", response_class=HTMLResponse)
def send_test(request: Request, console: ConsoleDep, webhook_id: Id) -> Response:
    return _done(
        request,
        console,
        lambda: webhooks.send_test(console.session, console.principal, webhook_id, utcnow()),
        f"/app/webhooks/{webhook_id}",
        webhook_id,
    )


@router.post("/webhooks/{webhook_id}/delete", response_class=HTMLResponse)
def delete_endpoint(request: Request, console: ConsoleDep, webhook_id: Id) -> Response:
    return _done(
        request,
        console,
        lambda: webhooks.delete_endpoint(console.session, console.principal, webhook_id),
        "/app/webhooks",
        webhook_id,
    )


@router.post("/webhook-deliveries/{delivery_id}/redeliver", response_class=HTMLResponse)
def redeliver(request: Request, console: ConsoleDep, delivery_id: Id) -> Response:
    delivery = webhooks.get_delivery(console.session, console.principal, delivery_id)
    return _done(
        request,
        console,
        lambda: webhooks.redeliver(console.session, console.principal, delivery_id, utcnow()),
        f"/app/webhooks/{delivery.endpoint_id}",
        delivery.endpoint_id,
    )
