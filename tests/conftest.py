"""Fixtures: every storage test runs on SQLite and on PostgreSQL.

``database_url`` is parametrised over both dialects. PostgreSQL comes from ``GUANXI_TEST_PG_URL``
(``make test`` starts the server and sets it); each xdist worker gets its own database, migrated
from empty by the real Alembic tree. Tests isolate by tenancy: each creates its own workspace.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from guanxi.app import create_app
from guanxi.config import Settings
from guanxi.event import partitions
from guanxi.migrate import upgrade

DIALECTS = ["sqlite", "postgresql"]


def pg_admin_url() -> str:
    url = os.environ.get("GUANXI_TEST_PG_URL")
    if not url:
        raise RuntimeError(
            "GUANXI_TEST_PG_URL is not set: run the suite with `make test`, which starts "
            "PostgreSQL, or point it at a server (postgresql://user@host/postgres)."
        )
    return url


def fresh_pg_database(name: str) -> str:
    """Drop and create database ``name`` on the test server; return its SQLAlchemy URL."""
    admin = make_url(pg_admin_url())
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    partitions.forget()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False
    )


def worker_id() -> str:
    """Names this run's databases: ``GUANXI_TEST_RUN`` keeps two runs on one server apart."""
    return os.environ.get("GUANXI_TEST_RUN", "") + os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session", params=DIALECTS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'guanxi.db'}"
    else:
        url = fresh_pg_database(f"guanxi_test_{worker_id()}")
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
        secret_key="test-secret-key-not-used-anywhere-else",
        default_language="en",
        log_format="json",
        log_level="WARNING",
    )


@pytest.fixture(scope="session")
def app(settings: Settings) -> Iterator[object]:
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def dialect(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="module")
def live_server(app: FastAPI) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
