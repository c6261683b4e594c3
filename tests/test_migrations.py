"""The Alembic tree: runs forward from empty on both dialects, matches the models, has one head."""

from __future__ import annotations

import re

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from guanxi.db import make_engine
from guanxi.migrate import alembic_config, current_revision, head_revision, upgrade
from guanxi.models import Base
from tests.conftest import fresh_pg_database, worker_id


def test_one_head_and_date_prefixed_files() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    for revision in script.walk_revisions():
        assert revision.path is not None
        name = revision.path.rsplit("/", 1)[-1]
        assert re.match(r"^\d{4}_\d{2}_\d{2}_\d{4}_\w+\.py$", name), name


def check_fresh(url: str) -> None:
    upgrade(url)
    upgrade(url)  # a second run is a no-op
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
            assert diff == [], diff
    finally:
        engine.dispose()


def test_migrations_from_empty_on_sqlite(tmp_path: object) -> None:
    check_fresh(f"sqlite:///{tmp_path}/fresh.db")


def test_migrations_from_empty_on_postgresql() -> None:
    check_fresh(fresh_pg_database(f"guanxi_migrate_{worker_id()}"))


def _upgrade_with_data(url: str) -> None:
    """From the first revision with a workspace and a login in it, to head: the rows survive and
    the columns later revisions add are there."""
    from sqlalchemy import text

    upgrade(url, "0001")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO workspace (id, name, default_language, timezone, created_at) VALUES (1, 'Old', 'zh_CN', 'Asia/Shanghai', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO app_user (id, email, name, created_at) VALUES (2, 'old@x.cn', 'Old', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO membership (workspace_id, user_id, role, data_scope, status, created_at) VALUES (1, 2, 'admin', 'all', 'active', CURRENT_TIMESTAMP)"
                )
            )
        upgrade(url)
        with engine.begin() as conn:
            assert conn.execute(text("SELECT name FROM workspace WHERE id = 1")).scalar() == "Old"
            conn.execute(
                text(
                    "INSERT INTO contact (workspace_id, id, custom, status, created_at, updated_at, import_id) VALUES (1, 3, '{}', 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, NULL)"
                )
            )
            assert current_revision(conn) == head_revision()
    finally:
        engine.dispose()


def test_upgrade_from_the_first_revision_with_data_on_sqlite(tmp_path: object) -> None:
    _upgrade_with_data(f"sqlite:///{tmp_path}/old.db")


def test_upgrade_from_the_first_revision_with_data_on_postgresql() -> None:
    _upgrade_with_data(fresh_pg_database(f"guanxi_migrate_old_{worker_id()}"))


def _upgrade_events(url: str) -> None:
    """Events written before 0006 (one table, keys in a column) are all in the monthly
    partitions after it, and their idempotency keys still answer a retry as a duplicate."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from guanxi.db import make_sessionmaker
    from guanxi.event import service
    from guanxi.event.records import Draft

    upgrade(url, "0005")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO workspace (id, name, default_language, timezone, created_at) VALUES (1, 'Old', 'zh_CN', 'Asia/Shanghai', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO contact (workspace_id, id, custom, status, created_at, updated_at) VALUES (1, 3, '{}', 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            for i, (at, key) in enumerate(
                [("2026-09-30 23:59:59+00", "old-key"), ("2026-10-01 00:00:00+00", None)]
            ):
                conn.execute(
                    text(
                        "INSERT INTO event (workspace_id, id, contact_id, origin_contact_id, type, occurred_at, received_at, properties, idempotency_key) "
                        "VALUES (1, :id, 3, 3, 'note', :at, :at, '{\"text\": \"x\"}', :key)"
                    ),
                    {"id": 10 + i, "at": at, "key": key},
                )
        upgrade(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM event")).scalar() == 2
            if conn.dialect.name == "postgresql":
                names = conn.execute(
                    text(
                        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                        "WHERE i.inhparent = 'event'::regclass ORDER BY 1"
                    )
                ).scalars()
                assert list(names) == ["event_p202609", "event_p202610"]
        session = make_sessionmaker(engine)()
        now = datetime(2026, 11, 1, tzinfo=UTC)
        [again] = service.store(
            session, 1, [Draft(contact_id=3, type="note", occurred_at=now, key="old-key")], now
        )
        assert (again.duplicate, again.event_id) == (True, 10)
        session.close()
        # and back: one plain table holding the same events (their keys were only hashes)
        from alembic import command

        engine.dispose()
        command.downgrade(alembic_config(url), "0005")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM event")).scalar() == 2
        upgrade(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM event")).scalar() == 2
    finally:
        engine.dispose()


def test_upgrade_keeps_events_and_their_keys_on_sqlite(tmp_path: object) -> None:
    _upgrade_events(f"sqlite:///{tmp_path}/events.db")


def test_upgrade_keeps_events_and_their_keys_on_postgresql() -> None:
    _upgrade_events(fresh_pg_database(f"guanxi_migrate_events_{worker_id()}"))
