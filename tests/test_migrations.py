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
