"""Helpers for the consent tests: contacts made through the API, and what was written."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select

from guanxi.models import ContactConsent, Event, SendingPolicy
from tests.factories import Tenant
from tests.tag.client import Api


def contact(tenant: Tenant, name: str = "客户", **fields: Any) -> int:
    return int(Api(tenant).contact(name, **fields))


def consents(tenant: Tenant, contact_id: int) -> dict[str, tuple[str, str | None]]:
    """Each channel's (status, source) of the contact."""
    with tenant.session() as s:
        rows = s.scalars(
            select(ContactConsent).where(
                ContactConsent.workspace_id == tenant.workspace_id,
                ContactConsent.contact_id == contact_id,
            )
        )
        return {r.channel: (r.status, r.source) for r in rows}


def events(tenant: Tenant, *types: str) -> list[tuple[int, str, dict[str, Any], str | None]]:
    """(contact id, type, properties, source) of the workspace's events of ``types``, oldest
    first."""
    with tenant.session() as s:
        rows = s.scalars(
            select(Event)
            .where(Event.workspace_id == tenant.workspace_id, Event.type.in_(types))
            .order_by(Event.occurred_at, Event.id)
        )
        return [(e.contact_id, e.type, dict(e.properties), e.source) for e in rows]


def require_opt_in(tenant: Tenant, *channels: str) -> None:
    """The workspace's sending policy wants an explicit opt-in on ``channels`` (the policy is
    the messaging module's: its row is written here as that module stores it)."""
    with tenant.session() as s:
        s.merge(
            SendingPolicy(workspace_id=tenant.workspace_id, caps=[], opt_in_channels=list(channels))
        )


@contextmanager
def statements(tenant: Tenant) -> Iterator[list[str]]:
    """The SQL statements run on the app's engine inside the block."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = tenant.app.state.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)
