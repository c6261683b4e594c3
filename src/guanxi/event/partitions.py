"""Monthly partitions of ``event`` on PostgreSQL, made as events for a month first arrive.

A new month's table is created empty and then attached: ATTACH PARTITION takes only a SHARE
UPDATE EXCLUSIVE lock on ``event``, which does not wait for transactions writing events (CREATE
TABLE … PARTITION OF would take ACCESS EXCLUSIVE and queue every writer behind it). It runs on
a connection of its own in autocommit, under an advisory lock so that two processes meeting a
new month at once make it once. SQLite has one plain table and nothing to do.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

_LOCK = 0x6775_616E_7869  # "guanxi": the advisory lock that serialises partition creation
_known: set[tuple[str, str]] = set()  # (engine url, partition name) known to exist
_mutex = threading.Lock()
_ddl: dict[str, Engine] = {}


def month_of(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def _next(month: datetime) -> datetime:
    return datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)


def name_of(month: datetime) -> str:
    return f"event_p{month.year:04d}{month.month:02d}"


def _ddl_engine(url: str) -> Engine:
    """An engine of its own, without a pool, for the rare DDL: the caller holds one of the app
    pool's connections already, and many requests meeting a new month at once must not wait
    for a second one from the same pool."""
    with _mutex:
        if url not in _ddl:
            _ddl[url] = create_engine(url, poolclass=NullPool)
        return _ddl[url]


def ensure(engine: Engine, instants: Iterable[datetime]) -> None:
    """Make sure a partition exists for the month of every instant."""
    if engine.dialect.name != "postgresql":
        return
    url = engine.url.render_as_string(hide_password=False)
    wanted = {month_of(at) for at in instants}
    with _mutex:
        missing = sorted(m for m in wanted if (url, name_of(m)) not in _known)
    if not missing:
        return
    with _ddl_engine(url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK})
        try:
            have = set(
                conn.execute(
                    text(
                        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                        "WHERE i.inhparent = 'event'::regclass"
                    )
                ).scalars()
            )
            for month in missing:
                name = name_of(month)
                if name not in have:
                    conn.execute(
                        text(f"CREATE TABLE IF NOT EXISTS {name} (LIKE event INCLUDING DEFAULTS)")
                    )
                    conn.execute(
                        text(
                            f"ALTER TABLE event ATTACH PARTITION {name} FOR VALUES "
                            f"FROM ('{month.isoformat()}') TO ('{_next(month).isoformat()}')"
                        )
                    )
                with _mutex:
                    _known.add((url, name))
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK})


def forget() -> None:
    """Drop what this process knows exists (a test that recreates its database calls it)."""
    with _mutex:
        _known.clear()
