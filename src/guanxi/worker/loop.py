"""The worker process: scheduled tasks on their intervals, job rows (imports, …), and the pumps
that move durable work along — the journey runner, the message dispatcher and the webhook
dispatcher — each called until it finds nothing due, in every turn of the loop.

Each task is a function of (session, now) registered with an interval, run in its own
transaction. Jobs are claimed one at a time (``worker/jobs.py``; ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL). On SQLite one worker runs; on PostgreSQL several may, so tasks must be safe to run
concurrently (set-based deletes and updates) and jobs resume from their checkpoints.
"""

from __future__ import annotations

import importlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from guanxi.auth.service import purge_expired_sessions
from guanxi.config import Settings, get_settings
from guanxi.db import transaction
from guanxi.journey import runner as journey_runner
from guanxi.journey import schedule as journey_schedule
from guanxi.kit.clock import utcnow
from guanxi.lifecycle import tasks as lifecycle_tasks
from guanxi.message.dispatcher import Dispatcher
from guanxi.scoring import tasks as scoring_tasks
from guanxi.segment import timers as segment_timers
from guanxi.webhook import tasks as webhook_tasks
from guanxi.worker import jobs

log = logging.getLogger("guanxi.worker")

Task = Callable[[Session, datetime], None]
JOB_MODULES = (
    "guanxi.importer.tasks",
    "guanxi.journey.tasks",
    "guanxi.message.broadcasts",
    "guanxi.lifecycle.tasks",
    "guanxi.scoring.tasks",
    "guanxi.segment.build",
)


@dataclass
class Scheduled:
    name: str
    every_s: float
    run: Task
    next_at: float = 0.0
    failures: int = field(default=0)


def refresh_statistics(session: Session, now: datetime) -> None:
    """SQLite has no autovacuum to keep planner statistics fresh; ``PRAGMA optimize`` re-analyses
    the tables that changed enough (PostgreSQL's autovacuum does this itself)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA optimize"))


def default_schedule() -> list[Scheduled]:
    return [
        Scheduled("purge_expired_sessions", 3600, purge_expired_sessions),
        Scheduled("refresh_statistics", 3600, refresh_statistics),
        Scheduled("segment_timers", 10, segment_timers.run_due),
        Scheduled("rebase_scores", 86400, scoring_tasks.rebase),
        Scheduled("lifecycle_daily", 86400, lifecycle_tasks.daily),
        Scheduled("journey_clock", 30, journey_schedule.run_clock),
        Scheduled("purge_webhook_deliveries", 86400, webhook_tasks.purge),
    ]


Pump = Callable[[], int]
ROUNDS = 50  # rounds of the pumps in one turn of the loop, so that jobs and tasks get theirs


def pump(pumps: list[tuple[str, Pump]]) -> int:
    """One round of each pump in turn (the runner's steps reach the dispatcher at once), until
    none finds anything due or ``ROUNDS`` rounds ran; a failing pump is logged and left out
    until the next turn."""
    done, live = 0, list(pumps)
    for _ in range(ROUNDS):
        busy = 0
        for entry in list(live):
            name, run = entry
            try:
                busy += run()
            except Exception:
                log.exception("pump failed", extra={"pump": name})
                live.remove(entry)
        done += busy
        if not busy:
            break
    return done


def run_due(factory: sessionmaker[Session], schedule: list[Scheduled], clock: float) -> int:
    """Run every task whose time has come; returns how many ran. A failing task is logged and
    retried at its next interval, never stopping the others."""
    ran = 0
    for task in schedule:
        if task.next_at > clock:
            continue
        started = time.perf_counter()
        try:
            with transaction(factory) as session:
                task.run(session, utcnow())
            task.failures = 0
            log.info(
                "task done",
                extra={"task": task.name, "ms": round((time.perf_counter() - started) * 1000, 1)},
            )
        except Exception:
            task.failures += 1
            log.exception("task failed", extra={"task": task.name, "failures": task.failures})
        task.next_at = clock + task.every_s
        ran += 1
    return ran


def serve(
    factory: sessionmaker[Session],
    data_dir: Path,
    *,
    once: bool = False,
    poll_s: float = 1.0,
    settings: Settings | None = None,
) -> None:
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    for module in JOB_MODULES:  # importing a module registers its job handlers
        importlib.import_module(module)

    schedule = default_schedule()
    dispatcher = Dispatcher(factory, settings or get_settings())
    pumps: list[tuple[str, Pump]] = [
        ("journeys", lambda: journey_runner.run_due(factory)),
        ("messages", dispatcher.run_once),
        ("webhooks", lambda: webhook_tasks.run_due(factory, utcnow())),
    ]
    log.info(
        "worker started", extra={"tasks": [t.name for t in schedule], "jobs": sorted(jobs.HANDLERS)}
    )
    try:
        while not stop.is_set():
            run_due(factory, schedule, time.monotonic())
            busy = pump(pumps)
            while not stop.is_set() and jobs.run_one(factory, data_dir):
                busy += 1
            if once:
                break
            if not busy:
                stop.wait(poll_s)
    finally:
        dispatcher.close()
    log.info("worker stopped")
