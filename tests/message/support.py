"""What the messaging and journey tests set up through the API: channel accounts (the sandbox,
or SMTP to a local aiosmtpd server), templates, contacts; and the worker's pumps driven with a
chosen clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import FastAPI

from guanxi.journey import runner
from guanxi.kit.clock import utcnow
from guanxi.message.dispatcher import Dispatcher
from tests.factories import Tenant


def sandbox(tenant: Tenant, channel: str, mailbox: str, **config: Any) -> str:
    body = {
        "channel": channel,
        "kind": "sandbox",
        "name": f"{channel} sandbox",
        "config": {"mailbox": mailbox, **config},
    }
    return str(tenant.call("POST", "/channel-accounts", json=body)["id"])


def smtp(tenant: Tenant, port: int, **config: Any) -> str:
    body = {
        "channel": "email",
        "kind": "smtp",
        "name": "local smtp",
        "config": {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "from_address": "news@guanxi.test",
            "from_name": "关系 Guanxi",
            **config,
        },
    }
    return str(tenant.call("POST", "/channel-accounts", json=body)["id"])


def template(tenant: Tenant, channel: str, name: str, **parts: Any) -> str:
    body = {"channel": channel, "name": name, **parts}
    if channel != "email" and "text" not in parts:
        body["text"] = f"{name}: {{{{ contact.name }}}}"
    return str(tenant.call("POST", "/templates", json=body)["id"])


def contact(tenant: Tenant, **fields: Any) -> str:
    return str(tenant.call("POST", "/contacts", json=fields)["id"])


def send(tenant: Tenant, contact_id: str, template_id: str, **extra: Any) -> dict[str, Any]:
    body = {"contact_id": contact_id, "template_id": template_id, **extra}
    result: dict[str, Any] = tenant.call("POST", "/messages", json=body)
    return result


def message(tenant: Tenant, message_id: str) -> dict[str, Any]:
    result: dict[str, Any] = tenant.call("GET", f"/messages/{message_id}")
    return result


def dispatch(app: FastAPI, now: datetime | None = None) -> int:
    """Dispatcher rounds until nothing is due at ``now`` (which is also the time it records)."""
    clock = (lambda: now) if now is not None else utcnow
    d = Dispatcher(app.state.sessionmaker, app.state.settings, clock=clock)
    try:
        total = 0
        while n := d.run_once(now):
            total += n
        return total
    finally:
        d.close()


def run_journeys(app: FastAPI, now: datetime) -> int:
    total = 0
    while n := runner.run_due(app.state.sessionmaker, now):
        total += n
    return total
