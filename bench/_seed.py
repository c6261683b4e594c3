"""What the journey and send benchmarks share: a workspace with its owner, and contacts written
with COPY (loading them is not what is measured)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from guanxi.auth import service as auth
from guanxi.auth.principal import Principal
from guanxi.db import analyze, bulk_insert, transaction
from guanxi.kit.clock import utcnow
from guanxi.kit.ids import new_ids
from guanxi.models import Contact
from guanxi.workspace import members

CHUNK = 50_000


def workspace(factory: sessionmaker[Session], name: str) -> tuple[int, int]:
    """A new workspace; returns (workspace id, owner's user id)."""
    with transaction(factory) as s:
        owner, ws = members.create_owner(
            s,
            email=f"{name}-{time.time_ns()}@bench.local",
            name=name,
            password="bench-password",
            language="en",
        )
        return ws.id, owner.id


def principal(s: Session, workspace_id: int, user_id: int) -> Principal:
    return auth.principal_for(members.find_member(s, workspace_id, user_id)[1])


def contacts(
    factory: sessionmaker[Session],
    workspace_id: int,
    n: int,
    fields: Callable[[int], dict[str, Any]],
) -> list[int]:
    """``n`` active contacts, the i-th with ``fields(i)``; their ids in order."""
    now = utcnow()
    ids: list[int] = []
    for start in range(0, n, CHUNK):
        chunk = new_ids(min(CHUNK, n - start))
        rows = [
            {
                "workspace_id": workspace_id,
                "id": contact_id,
                "custom": {},
                "status": "active",
                "created_at": now,
                "updated_at": now,
                **fields(start + i),
            }
            for i, contact_id in enumerate(chunk)
        ]
        with transaction(factory) as s:
            bulk_insert(s, Contact, rows)
        ids += chunk
    with transaction(factory) as s:
        analyze(s, "contact")
    return ids
