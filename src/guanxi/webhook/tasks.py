"""Webhook work for the worker: delivery rounds, and pruning the delivery log.

A delivery round cannot be a scheduled task of ``(session, now)``: those run inside one
transaction, and a request must go out with no transaction open (a slow receiver would hold
row locks for seconds). ``run_due`` takes the session factory and opens its own short
transactions around the sending; ``deliver`` is the worker loop's hook.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from guanxi.config import get_settings
from guanxi.db import in_list, transaction
from guanxi.kit.clock import utcnow
from guanxi.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from guanxi.webhook import dispatch, targets
from guanxi.worker.jobs import WORKER_ID

KEEP = timedelta(days=30)  # finished deliveries (and their attempts) stay this long
PURGE_CHUNK = 5_000


def run_due(
    factory: sessionmaker[Session],
    now: datetime,
    *,
    secret_key: str | None = None,
    worker: str = WORKER_ID,
    limit: int = dispatch.BATCH,
    timeout_s: float = dispatch.TIMEOUT_S,
    allowed: Sequence[targets.Network] | None = None,
) -> int:
    """One round: claim up to ``limit`` due deliveries, send them, record the answers.
    Returns how many were claimed (0: nothing was due). ``secret_key`` unseals the endpoints'
    secrets, ``allowed`` are the networks webhooks may reach although not public (default:
    the installation's)."""
    key = secret_key if secret_key is not None else get_settings().secret_key
    networks = allowed if allowed is not None else get_settings().webhook_allowed_networks
    with transaction(factory) as session:
        outgoing = dispatch.claim(session, now, worker, key, limit)
        claimed = len(outgoing)
    if not outgoing:
        return claimed
    answers = dispatch.send_all(outgoing, now, timeout_s, networks)
    with transaction(factory) as session:
        dispatch.record(session, answers, now, worker)
    return claimed


def deliver(factory: sessionmaker[Session]) -> bool:
    """The worker loop's hook: one round now; True when a whole batch was due (more may be
    waiting, so the loop calls again before it sleeps)."""
    return run_due(factory, utcnow()) >= dispatch.BATCH


def purge(session: Session, now: datetime) -> None:
    """Forget delivered and failed deliveries older than ``KEEP`` with their attempts, endpoint
    by endpoint (each walk follows the endpoint's index), a chunk at a time. A daily task."""
    cutoff = now - KEEP
    endpoints = session.execute(select(WebhookEndpoint.workspace_id, WebhookEndpoint.id)).all()
    for workspace_id, endpoint_id in endpoints:
        while True:
            ids = session.scalars(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.workspace_id == workspace_id,
                    WebhookDelivery.endpoint_id == endpoint_id,
                    WebhookDelivery.created_at < cutoff,
                    WebhookDelivery.status.in_(("delivered", "failed")),
                )
                .limit(PURGE_CHUNK)
            ).all()
            if not ids:
                break
            session.execute(
                delete(WebhookAttempt).where(
                    WebhookAttempt.workspace_id == workspace_id,
                    in_list(session, WebhookAttempt.delivery_id, ids),
                )
            )
            session.execute(
                delete(WebhookDelivery).where(
                    WebhookDelivery.workspace_id == workspace_id,
                    in_list(session, WebhookDelivery.id, ids),
                )
            )
