"""The ``guanxi`` command: serve, worker, migrate, demo, bench, user."""

from __future__ import annotations

import importlib.util
import json
import platform
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from guanxi import __version__
from guanxi.config import Settings, get_settings
from guanxi.db import make_engine, make_sessionmaker, transaction

app = typer.Typer(help="guanxi 关系 — social CRM and marketing automation.", no_args_is_help=True)
user_app = typer.Typer(help="Manage logins.", no_args_is_help=True)
app.add_typer(user_app, name="user")
out = Console(stderr=False)
err = Console(stderr=True)

DatabaseOpt = Annotated[
    str | None, typer.Option("--database-url", help="Overrides GUANXI_DATABASE_URL.")
]
BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"


def _settings(database_url: str | None) -> Settings:
    settings = get_settings()
    return settings.model_copy(update={"database_url": database_url}) if database_url else settings


@app.callback()
def _root() -> None:
    from guanxi.http.telemetry import configure_logging
    from guanxi.kit import collector

    collector.tune()

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)


@app.command()
def version() -> None:
    """Print the version."""
    out.print(__version__)


@app.command()
def migrate(database_url: DatabaseOpt = None) -> None:
    """Bring the database schema to the latest migration (creates a SQLite file if needed)."""
    from guanxi.migrate import upgrade

    settings = _settings(database_url)
    upgrade(settings.database_url)
    out.print(f"[green]migrated[/green] {_redact(settings.database_url)}")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = typer.Option(1, help="Processes (PostgreSQL); SQLite wants one."),
    database_url: DatabaseOpt = None,
    reload: bool = False,
    with_worker: Annotated[
        bool | None,
        typer.Option(
            "--with-worker/--no-worker",
            help="Run the background worker inside this process (default: on SQLite).",
        ),
    ] = None,
) -> None:
    """Serve the API and the console (migrates first)."""
    import os
    import threading

    import uvicorn

    from guanxi.migrate import upgrade

    settings = _settings(database_url)
    upgrade(settings.database_url)
    if with_worker is None:  # the embedded default runs in one process: journeys move, mail goes
        with_worker = settings.database_url.startswith("sqlite") and not reload
    if with_worker:
        threading.Thread(target=_embedded_worker, args=(settings,), daemon=True).start()
    os.environ["GUANXI_DATABASE_URL"] = settings.database_url
    out.print(
        f"guanxi {__version__} on http://{host}:{port}/app · API docs http://{host}:{port}/api/docs"
    )
    uvicorn.run(
        "guanxi.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        log_config=None,
        proxy_headers=True,
    )


@app.command()
def worker(database_url: DatabaseOpt = None, once: bool = False) -> None:
    """Run background work: scheduled tasks (and job queues as modules add them)."""
    from guanxi.worker.loop import serve as serve_worker

    settings = _settings(database_url)
    engine = make_engine(settings.database_url)
    serve_worker(make_sessionmaker(engine), settings.data_dir, once=once, settings=settings)
    engine.dispose()


def _embedded_worker(settings: Settings) -> None:
    from guanxi.worker.loop import serve as serve_worker

    engine = make_engine(settings.database_url)
    serve_worker(make_sessionmaker(engine), settings.data_dir, settings=settings)


@app.command()
def demo(
    database_url: DatabaseOpt = None,
    password: Annotated[
        str | None, typer.Option(help="Demo password (default: a new random one).")
    ] = None,
) -> None:
    """Create or refresh the demo workspace and print its admin login."""
    from guanxi.demo.loader import load_demo
    from guanxi.migrate import upgrade

    settings = _settings(database_url)
    upgrade(settings.database_url)
    password = password or secrets.token_urlsafe(9)
    engine = make_engine(settings.database_url)
    with transaction(make_sessionmaker(engine)) as session:
        login = load_demo(session, password)
    engine.dispose()
    out.print(f"[bold]Demo workspace ready[/bold] ({login.members} members) · 演示工作区已就绪")
    out.print(f"  console 控制台: {settings.base_url}/app")
    out.print(f"  email   邮箱:   [bold]{login.email}[/bold]")
    out.print(
        f"  password 密码:  [bold]{login.password}[/bold]  (every demo member uses it · 所有演示成员通用)"
    )


@user_app.command("create")
def user_create(
    email: str,
    name: Annotated[str, typer.Option(help="Display name.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    workspace: Annotated[
        str | None,
        typer.Option(help="Workspace id to join; default: a new workspace named after you."),
    ] = None,
    role: str = "admin",
    database_url: DatabaseOpt = None,
) -> None:
    """Create a login (as administrator of a new workspace, or with a role in an existing one)."""
    from pydantic import ValidationError

    from guanxi.auth.permissions import DataScope, Role
    from guanxi.auth.principal import Principal
    from guanxi.errors import GuanxiError
    from guanxi.migrate import upgrade
    from guanxi.workspace import members, service
    from guanxi.workspace.schemas import MemberIn

    settings = _settings(database_url)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            data = MemberIn(email=email, name=name, password=password, role=Role(role))
            if workspace is None:
                _, ws = members.create_owner(
                    session,
                    email=data.email,
                    name=data.name,
                    password=password,
                    language=settings.default_language,
                )
                workspace_id = ws.id
            else:
                workspace_id = int(workspace)
                service.get_workspace(session, workspace_id)
                system = Principal(0, workspace_id, Role.admin, DataScope.all, None, "session")
                members.add_member(session, system, data)
    except (GuanxiError, ValidationError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    out.print(f"created {email} in workspace {workspace_id}")


@app.command("import")
def import_file(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    workspace: Annotated[int, typer.Option(help="Workspace id.")],
    as_user: Annotated[
        str | None, typer.Option("--as", help="A member's email (default: the first admin).")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="JSON {header: target}; default: the suggested mapping.")
    ] = None,
    dedup: Annotated[str, typer.Option(help="skip | update | merge")] = "update",
    overwrite: bool = False,
    accounts: Annotated[str, typer.Option(help="link | create")] = "create",
    dry_run: bool = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Import contacts from a CSV or XLSX file, with a progress bar (the same job the console
    starts, run here rather than by a worker)."""
    from pydantic import ValidationError
    from rich.progress import Progress

    from guanxi.errors import GuanxiError
    from guanxi.importer import jobs as imports
    from guanxi.importer import service as importer
    from guanxi.importer.schemas import ImportIn
    from guanxi.kit.clock import utcnow
    from guanxi.migrate import upgrade
    from guanxi.worker import jobs
    from guanxi.worker.jobs import JobContext

    settings = _settings(database_url)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine)
    total = (
        sum(1 for _ in path.open("rb")) - 1 if not path.suffix.lower().endswith("xlsx") else None
    )
    try:
        with transaction(factory) as session, path.open("rb") as fh:
            actor = _member(session, workspace, as_user)
            upload = imports.store_upload(session, actor, settings.data_dir, fh)
            chosen = json.loads(mapping.read_text()) if mapping else upload.suggested_mapping
            data = ImportIn(
                file_id=upload.file_id,
                mapping=chosen,
                dedup=dedup,
                overwrite=overwrite,
                accounts=accounts,
                dry_run=dry_run,
            )
            job = imports.start(session, actor, settings.data_dir, data, settings.default_language)
            # held by this process like a worker's claim: if it dies, a worker resumes the
            # import from its last checkpoint once the lease runs out
            jobs.take(session, job, utcnow())
            context = JobContext(factory, job.workspace_id, job.id, dict(job.payload), {})
        out.print(f"import {job.id}: {upload.format} {upload.encoding or ''} · mapping {chosen}")
        with Progress(console=out) as bar:
            task = bar.add_task("importing", total=total)
            original = context.checkpoint

            def checkpoint(progress: dict[str, Any], session: Any = None) -> bool:
                bar.update(task, completed=progress.get("counts", {}).get("rows", 0))
                return original(progress, session)

            context.checkpoint = checkpoint  # type: ignore[method-assign]
            try:
                with jobs.Heartbeat(context):
                    status = importer.run(context, Path(context.payload["path"]))
            except BaseException as exc:  # failed here: no worker should resume it later
                with transaction(factory) as session:
                    row = jobs.held(session, context.workspace_id, context.job_id, context.worker)
                    if row is not None:
                        row.status, row.finished_at, row.lease_until = "failed", utcnow(), None
                        row.error = f"{type(exc).__name__}: {exc}"[:2000]
                raise
        with transaction(factory) as session:
            row = jobs.held(session, context.workspace_id, context.job_id, context.worker)
            if row is None:
                status = "taken over by a worker"
            else:
                row.status, row.progress, row.finished_at = status, dict(context.progress), utcnow()
    except (GuanxiError, ValidationError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    counts = context.progress.get("counts", {})
    out.print(f"{status}: {counts}")
    if counts.get("problems"):
        out.print(f"problem report: GET /api/v1/imports/{context.job_id}/problems.csv")


def _member(session: Any, workspace_id: int, email: str | None) -> Any:
    """The principal a CLI import acts as: the given member, or the workspace's first admin."""
    from sqlalchemy import select

    from guanxi.auth import service as auth
    from guanxi.auth import users
    from guanxi.errors import NotFound
    from guanxi.models import Membership
    from guanxi.workspace import members

    if email:
        user = users.by_email(session, email)
        membership = members.active_membership(session, workspace_id, user.id) if user else None
    else:
        stmt = (
            select(Membership)
            .where(
                Membership.workspace_id == workspace_id,
                Membership.role == "admin",
                Membership.status == "active",
            )
            .order_by(Membership.created_at)
        )
        membership = session.scalars(stmt).first()
    if membership is None:
        raise NotFound(resource="Member")
    return auth.principal_for(membership)


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def bench(
    name: str,
    database_url: DatabaseOpt = None,
    scale: Annotated[
        str, typer.Option(help="small (CI smoke, < 1 min) or full (the issue's goal).")
    ] = "small",
) -> None:
    """Run bench/NAME.py on its own generated data; the last line printed is one JSON object."""
    if scale not in ("small", "full"):
        err.print("[red]--scale is small or full[/red]")
        raise typer.Exit(2)
    path = BENCH_DIR / f"{name}.py"
    if not path.exists():
        known = sorted(p.stem for p in BENCH_DIR.glob("*.py") if not p.stem.startswith("_"))
        err.print(f"[red]unknown benchmark {name!r}[/red]; known: {', '.join(known)}")
        raise typer.Exit(2)
    if str(BENCH_DIR) not in sys.path:  # a benchmark may import the shared _helpers beside it
        sys.path.insert(0, str(BENCH_DIR))
    spec = importlib.util.spec_from_file_location(f"guanxi_bench_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{tmp}/bench.db"
        started = time.perf_counter()
        result: dict[str, Any] = module.run(url, scale)
        wall = time.perf_counter() - started
    from sqlalchemy.engine import make_url

    dialect = make_url(url).get_backend_name()
    report = {
        "bench": name,
        "dialect": "postgresql" if dialect.startswith("postgres") else dialect,
        "scale": result["scale"],
        "metrics": result["metrics"],
        "machine": {
            "cpus": _cpus(),
            "python": platform.python_version(),
            "total_wall_s": round(wall, 2),
        },
    }
    sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")


def _cpus() -> int:
    import os

    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


def main() -> None:
    app()
