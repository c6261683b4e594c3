"""Sending deliveries: claim a batch, POST each outside any transaction, record the answers.

1. ``claim`` (one transaction): due deliveries — ``pending`` with ``due_at`` passed, or
   ``delivering`` whose lease ran out (its worker died) — ``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL, so several workers never take the same row; each is marked ``delivering`` with
   this worker's lease and its attempt counted.
2. ``send_all`` (no transaction): POST with httpx, each signed as it leaves, 10 s timeout,
   redirects not followed, a few requests in flight per endpoint; each to the address its host
   resolves to now, and only when webhooks may reach it (``targets``).
3. ``record`` (a new transaction): each answer is written only where this worker still holds
   the delivery (fenced on ``claimed_by``), with its attempt row. A worker killed between
   sending and recording leaves the delivery ``delivering``; after its lease another worker
   sends it again, under the same ``Guanxi-Delivery`` id, which receivers dedupe on.

Outcomes: 2xx delivered. 410 Gone: the receiver asks for no more — the endpoint is disabled
(``gone``). Anything else (another status, a redirect, a timeout, no connection, a host that
does not resolve or resolves to an address webhooks may not reach: nothing sent) is retried
after ``backoff`` until ``MAX_ATTEMPTS`` attempts, then failed.

Circuit breaker: an endpoint's failed attempts in a row are counted (a success resets them).
One that failed ``BREAKER_FAILURES`` times in a row and has been failing for more than
``BREAKER_AGE`` is disabled (``failing``): its pending deliveries are failed (``service.disable``)
and the workspace's administrators are notified. Both conditions, so that neither a burst of
events against a short outage nor one slow trickle of failures turns an endpoint off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, or_, select, tuple_, update
from sqlalchemy.orm import Session

from guanxi import __version__
from guanxi.db import bulk_insert
from guanxi.models import Membership, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from guanxi.notification import service as notifications
from guanxi.webhook import service, signing, targets

log = logging.getLogger("guanxi.webhooks")

# covers a round: BATCH requests to one endpoint, PER_ENDPOINT at a time, take ≤ 250 s
LEASE = timedelta(minutes=5)
TIMEOUT_S = 10.0
BATCH = 100
IN_FLIGHT = 16
PER_ENDPOINT = 4
RETRY_AFTER_S = (30, 120, 600, 3600, 6 * 3600, 24 * 3600)  # after attempt 1, 2, …; then 24 h
MAX_ATTEMPTS = 8
BREAKER_FAILURES = 20
BREAKER_AGE = timedelta(hours=24)
NOTIFY_KIND = "webhook_disabled"
USER_AGENT = f"guanxi-webhooks/{__version__}"
REFUSED = "not sent: "  # + the host, its address and why webhooks may not reach it
ABANDONED = "gave up: its worker stopped during every attempt"
RESPONSE_KEPT = 1000  # characters of an answer's body kept with its attempt
UNREADABLE = "signing secret unreadable: the installation's secret key changed; rotate it"


def backoff(attempts: int) -> timedelta:
    """The wait after ``attempts`` failed tries: 30 s, 2 min, 10 min, 1 h, 6 h, then 24 h,
    each ±20% so that deliveries failed together do not all come back together."""
    base = RETRY_AFTER_S[min(attempts, len(RETRY_AFTER_S)) - 1]
    return timedelta(seconds=base * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not a secret


@dataclass(frozen=True)
class Outgoing:
    workspace_id: int
    delivery_id: int
    endpoint_id: int
    attempt: int
    event_type: str
    url: str
    body: bytes
    secret: str

    def headers(self, timestamp: int) -> dict[str, str]:
        signed = signing.headers(
            self.secret, timestamp, self.body, self.event_type, self.delivery_id
        )
        return signed | {"Content-Type": "application/json", "User-Agent": USER_AGENT}


@dataclass(frozen=True)
class Answer:
    out: Outgoing
    at: datetime
    status_code: int | None
    error: str | None
    ms: float
    response: str | None

    @property
    def outcome(self) -> str:
        """delivered, gone or retry."""
        if self.status_code is not None and 200 <= self.status_code < 300:
            return "delivered"
        return "gone" if self.status_code == 410 else "retry"


# -- 1. claim --------------------------------------------------------------------------------


def _fail(delivery: WebhookDelivery, reason: str) -> None:
    delivery.status, delivery.last_error = "failed", reason
    delivery.claimed_by = delivery.lease_until = None


def claim(
    session: Session, now: datetime, worker: str, secret_key: str, limit: int = BATCH
) -> list[Outgoing]:
    """Take up to ``limit`` due deliveries for ``worker`` at ``now``, ready to send. A delivery whose endpoint is gone or off meanwhile fails instead, and so does one
    whose secret cannot be unsealed (the installation's secret key changed), and one taken
    back from dead workers ``MAX_ATTEMPTS`` times."""
    stmt = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.due_at <= now,
            or_(
                WebhookDelivery.status == "pending",
                and_(WebhookDelivery.status == "delivering", WebhookDelivery.lease_until < now),
            ),
        )
        .order_by(WebhookDelivery.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = session.scalars(stmt).all()
    if not rows:
        return []
    keys = {(d.workspace_id, d.endpoint_id) for d in rows}
    endpoints = {
        (e.workspace_id, e.id): e
        for e in session.scalars(
            select(WebhookEndpoint).where(
                tuple_(WebhookEndpoint.workspace_id, WebhookEndpoint.id).in_(sorted(keys))
            )
        )
    }
    outgoing: list[Outgoing] = []
    for d in rows:
        endpoint = endpoints.get((d.workspace_id, d.endpoint_id))
        if endpoint is None or not endpoint.enabled:
            _fail(d, service.STOPPED)
            continue
        if d.status == "delivering" and d.attempts >= MAX_ATTEMPTS:  # its workers all died
            _fail(d, ABANDONED)
            continue
        try:
            secret = service.secret_of(secret_key, endpoint)
        except ValueError:
            _fail(d, UNREADABLE)
            continue
        body = json.dumps(d.payload, ensure_ascii=False, separators=(",", ":")).encode()
        d.status, d.claimed_by, d.lease_until = "delivering", worker, now + LEASE
        d.attempts += 1
        outgoing.append(
            Outgoing(
                d.workspace_id,
                d.id,
                endpoint.id,
                d.attempts,
                d.event_type,
                endpoint.url,
                body,
                secret,
            )
        )
    session.flush()
    return outgoing


# -- 2. send ---------------------------------------------------------------------------------


async def _exchange(
    client: httpx.AsyncClient, route: targets.Pinned, out: Outgoing, timestamp: int
) -> tuple[int, str, str | None]:
    """POST to the address ``route`` pinned, signed at ``timestamp``, and read no more of the
    answer than the log keeps (a receiver may answer with anything, of any size): its status,
    the start of its body, where a redirect points."""
    headers = out.headers(timestamp) | route.headers
    async with client.stream(
        "POST", route.url, content=out.body, headers=headers, extensions=route.extensions
    ) as r:
        head = b""
        async for chunk in r.aiter_bytes():
            head += chunk
            if len(head) >= RESPONSE_KEPT:
                break
        text = head.decode(r.encoding or "utf-8", errors="replace")[:RESPONSE_KEPT]
        return r.status_code, text, r.headers.get("location")


@dataclass
class _Round:
    """What the requests of one round share: its time, its start, how long each may take, the
    networks an operator allows, and a client per host."""

    at: datetime
    begun: float
    timeout_s: float
    allowed: Sequence[targets.Network]
    stack: contextlib.AsyncExitStack
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    def client(self, host: str) -> httpx.AsyncClient:
        """The client for ``host``. Requests go to addresses, not names, so one client each:
        a connection opened for one name (its certificate checked against it) never carries
        a request for another name at the same address."""
        if host not in self.clients:
            # trust_env: an installation that must go out through a proxy sets HTTPS_PROXY
            client = httpx.AsyncClient(
                timeout=self.timeout_s,
                follow_redirects=False,
                limits=httpx.Limits(max_connections=IN_FLIGHT),
            )
            self.stack.push_async_callback(client.aclose)
            self.clients[host] = client
        return self.clients[host]


async def _post(round_: _Round, out: Outgoing) -> Answer:
    """One attempt; the round's ``timeout_s`` bounds it from looking the host up to the last
    byte read. The host is looked up again and the request goes to the address checked
    (``targets.pin``): a host that is, or now resolves to, an address webhooks may not reach
    gets nothing. It is signed as it leaves: the round's time plus how long the round has run,
    since a batch to a slow receiver takes minutes and a receiver refuses a stale timestamp."""
    started = time.perf_counter()
    timestamp = int(round_.at.timestamp() + started - round_.begun)
    timeout_s = round_.timeout_s
    status: int | None = None
    error: str | None = None
    response: str | None = None
    try:
        async with asyncio.timeout(timeout_s):
            route = await targets.pin(out.url, round_.allowed)
            client = round_.client(route.host)
            status, response, location = await _exchange(client, route, out, timestamp)
        if 300 <= status < 400:
            error = f"redirect to {location or '?'} not followed"[:500]
        elif not 200 <= status < 300:
            error = f"HTTP {status}"
    except targets.Refused as exc:
        error = f"{REFUSED}{exc}"[:500]
    except socket.gaierror as exc:
        error = f"cannot resolve the host: {exc}"[:500]
    except (TimeoutError, httpx.TimeoutException):
        error = f"no answer within {timeout_s:g} s"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # refused, reset, bad TLS …
        error = f"{type(exc).__name__}: {exc}"[:500]
    ms = round((time.perf_counter() - started) * 1000, 1)
    return Answer(out, round_.at, status, error, ms, response or None)


async def _send(
    outgoing: Sequence[Outgoing],
    at: datetime,
    timeout_s: float,
    allowed: Sequence[targets.Network],
) -> list[Answer]:
    answers: list[Answer] = []
    window = asyncio.Semaphore(IN_FLIGHT)
    per_endpoint: dict[tuple[int, int], asyncio.Semaphore] = {}
    async with contextlib.AsyncExitStack() as stack:
        round_ = _Round(at, time.perf_counter(), timeout_s, allowed, stack)

        async def one(out: Outgoing) -> None:
            key = (out.workspace_id, out.endpoint_id)
            own = per_endpoint.setdefault(key, asyncio.Semaphore(PER_ENDPOINT))
            async with own, window:
                # in the order they come back
                answers.append(await _post(round_, out))

        await asyncio.gather(*(one(out) for out in outgoing))
    return answers


def send_all(
    outgoing: Sequence[Outgoing],
    at: datetime,
    timeout_s: float = TIMEOUT_S,
    allowed: Sequence[targets.Network] = (),
) -> list[Answer]:
    """POST every delivery; the answers in the order they came back. Never raises for a
    receiver's failure: that is an answer too. ``allowed``: networks webhooks may reach
    although they are not public (``targets``)."""
    if not outgoing:
        return []
    return asyncio.run(_send(outgoing, at, timeout_s, allowed))


# -- 3. record -------------------------------------------------------------------------------


def _settle(session: Session, answer: Answer, now: datetime, worker: str) -> bool:
    """Write one answer into its delivery if ``worker`` still holds it; False when not."""
    out = answer.out
    values: dict[str, Any] = {
        "claimed_by": None,
        "lease_until": None,
        "last_status": answer.status_code,
        "last_error": answer.error,
    }
    if answer.outcome == "delivered":
        values |= {"status": "delivered", "delivered_at": now}
    elif answer.outcome == "gone" or out.attempt >= MAX_ATTEMPTS:
        values |= {"status": "failed"}
    else:
        values |= {"status": "pending", "due_at": now + backoff(out.attempt)}
    held = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.workspace_id == out.workspace_id,
            WebhookDelivery.id == out.delivery_id,
            WebhookDelivery.status == "delivering",
            WebhookDelivery.claimed_by == worker,
        )
        .values(**values)
    )
    return bool(getattr(held, "rowcount", 0))


def _count(endpoint: WebhookEndpoint, answers: Sequence[Answer]) -> None:
    """Carry the endpoint's failures-in-a-row through its answers, in the order they came."""
    for answer in answers:
        if answer.outcome == "delivered":
            endpoint.failures, endpoint.failing_since = 0, None
        else:
            endpoint.failures += 1
            endpoint.failing_since = endpoint.failing_since or answer.at


def record(
    session: Session, answers: Sequence[Answer], now: datetime, worker: str
) -> list[WebhookEndpoint]:
    """Record ``answers``; returns the endpoints this disabled (410, or the breaker)."""
    keys = sorted({(a.out.workspace_id, a.out.endpoint_id) for a in answers})
    if not keys:
        return []
    # endpoints first, in one order, as service.disable does: no deadlock with a member's edit
    endpoints = {
        (e.workspace_id, e.id): e
        for e in session.scalars(
            select(WebhookEndpoint)
            .where(tuple_(WebhookEndpoint.workspace_id, WebhookEndpoint.id).in_(keys))
            .order_by(WebhookEndpoint.workspace_id, WebhookEndpoint.id)
            .with_for_update()
        )
    }
    kept = [a for a in answers if _settle(session, a, now, worker)]
    for a in kept:
        if a.error:
            log.warning(
                "webhook attempt failed", extra={"delivery_id": a.out.delivery_id, "error": a.error}
            )
    bulk_insert(
        session,
        WebhookAttempt,
        [
            {
                "workspace_id": a.out.workspace_id,
                "delivery_id": a.out.delivery_id,
                "n": a.out.attempt,
                "at": a.at,
                "status_code": a.status_code,
                "error": a.error,
                "ms": a.ms,
                "response": a.response,
            }
            for a in kept
        ],
    )
    disabled: list[WebhookEndpoint] = []
    for key, endpoint in endpoints.items():
        mine = [a for a in kept if (a.out.workspace_id, a.out.endpoint_id) == key]
        _count(endpoint, mine)
        reason = _trips(endpoint, mine, now)
        if reason is not None:
            service.disable(session, endpoint, reason, now)
            _tell_admins(session, endpoint, now)
            disabled.append(endpoint)
    session.flush()
    return disabled


def _trips(endpoint: WebhookEndpoint, answers: Sequence[Answer], now: datetime) -> str | None:
    """Why the endpoint is to be turned off now, if it is."""
    if not endpoint.enabled:
        return None
    if any(a.outcome == "gone" for a in answers):
        return "gone"
    since = endpoint.failing_since
    if endpoint.failures >= BREAKER_FAILURES and since is not None and now - since > BREAKER_AGE:
        return "failing"
    return None


def _tell_admins(session: Session, endpoint: WebhookEndpoint, now: datetime) -> None:
    admins = session.scalars(
        select(Membership.user_id).where(
            Membership.workspace_id == endpoint.workspace_id,
            Membership.role == "admin",
            Membership.status == "active",
        )
    ).all()
    payload = {
        "endpoint_id": str(endpoint.id),
        "url": endpoint.url,
        "reason": endpoint.disabled_reason,
        "failures": endpoint.failures,
    }
    for user_id in admins:
        notifications.notify(session, endpoint.workspace_id, user_id, NOTIFY_KIND, payload, now)
    log.warning(
        "webhook endpoint disabled",
        extra={"endpoint_id": endpoint.id, "reason": endpoint.disabled_reason},
    )
