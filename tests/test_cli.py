"""The ``guanxi`` command: migrate, demo, user create, bench, worker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from guanxi.auth import service as auth
from guanxi.auth import users
from guanxi.cli import app
from guanxi.db import make_engine, make_sessionmaker, transaction
from guanxi.kit.clock import utcnow

runner = CliRunner()


def test_demo_prints_a_login_that_works(database_url: str) -> None:
    result = runner.invoke(
        app, ["demo", "--database-url", database_url, "--password", "demo-pass-1"]
    )
    assert result.exit_code == 0, result.output
    assert "admin@demo.guanxi.local" in result.output
    assert "demo-pass-1" in result.output
    engine = make_engine(database_url)
    with transaction(make_sessionmaker(engine)) as s:
        assert users.authenticate(s, "admin@demo.guanxi.local", "demo-pass-1").name
    engine.dispose()


def test_user_create_makes_an_admin_of_a_new_workspace_and_refuses_duplicates(
    database_url: str,
) -> None:
    email = f"cli-{Path(database_url).name}-{id(runner)}@example.test".replace("/", "")
    args = [
        "user",
        "create",
        email,
        "--name",
        "命令行 CLI",
        "--password",
        "cli-password",
        "--database-url",
        database_url,
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    workspace_id = result.output.strip().rsplit(" ", 1)[-1]
    again = runner.invoke(app, args)
    assert again.exit_code == 2
    assert "already exists" in again.output
    result = runner.invoke(
        app,
        [
            "user",
            "create",
            "second-" + email,
            "--name",
            "Rep",
            "--password",
            "cli-password",
            "--workspace",
            workspace_id,
            "--role",
            "sales",
            "--database-url",
            database_url,
        ],
    )
    assert result.exit_code == 0, result.output
    engine = make_engine(database_url)
    with transaction(make_sessionmaker(engine)) as s:
        user = users.authenticate(s, "second-" + email, "cli-password")
        _, ctx = auth.start_session(s, user, int(workspace_id), utcnow(), 1)
        assert ctx.principal.role == "sales"
    engine.dispose()


def test_bench_runs_small_and_prints_json_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = runner.invoke(app, ["bench", "api", "--scale", "small"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["bench"] == "api"
    assert report["dialect"] == "sqlite"
    assert report["metrics"]["errors"] == 0
    assert report["metrics"]["requests_per_s"] > 0


def test_unknown_bench_and_bad_scale() -> None:
    result = runner.invoke(app, ["bench", "nope"])
    assert result.exit_code == 2
    assert "api" in result.output
    assert runner.invoke(app, ["bench", "api", "--scale", "huge"]).exit_code == 2


def test_worker_once(database_url: str) -> None:
    result = runner.invoke(app, ["worker", "--once", "--database-url", database_url])
    assert result.exit_code == 0, result.output
