"""Journey runner at scale: a million enrolments waiting cost nothing while idle, and when a
share of them falls due the runner moves them at ``transitions_per_s`` in one process.

The journey is what a marketer builds: wait a day → branch on the contact's city → tag
(a different tag per branch) → send an SMS (the sandbox connector: the outbox row is the
runner's work, the sending is the send benchmark's) → wait a week. Everything is on: the
reactor pipeline runs on the tag events (tag rules, scoring, segments, journey triggers and
webhooks — the workspace has a scoring model and a dynamic segment on the tags), the step log,
the outbox. Scale: small = 50,000 waiting, 10,000 due; full = 1,000,000 waiting, 100,000 due
(the issue's goal: ≥ 5,000 transitions/s per worker process on PostgreSQL).
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

import _seed
from guanxi.db import analyze, bulk_insert, make_engine, make_sessionmaker, transaction
from guanxi.journey import runner, service
from guanxi.kit.clock import utcnow
from guanxi.kit.ids import new_ids
from guanxi.message import accounts, templates
from guanxi.migrate import upgrade
from guanxi.models import JourneyEnrolment, JourneyStep, Tag
from guanxi.scoring import service as scoring
from guanxi.scoring.schemas import ModelIn, RuleIn
from guanxi.segment import manage as segments
from guanxi.segment.schemas import SegmentIn

SCALES = {
    "small": {"waiting": 50_000, "due": 10_000},
    "full": {"waiting": 1_000_000, "due": 100_000},
}
CITIES = ("上海", "北京", "深圳", "杭州")
CHUNK = 50_000


def _journey(factory: Any, workspace_id: int, user_id: int) -> tuple[int, int]:
    now = utcnow()
    with transaction(factory) as s:
        actor = _seed.principal(s, workspace_id, user_id)
        tags = []
        for name in ("上海客户", "外地客户"):
            tag = Tag(workspace_id=workspace_id, name=name, type="basic", created_at=now)
            s.add(tag)
            s.flush()
            tags.append(tag.id)
        model = scoring.create_model(s, actor, ModelIn(name="互动"), now)
        scoring.create_rule(
            s,
            actor,
            model.id,
            RuleIn(kind="engagement", name="标签", event_type="tag_added", points=5),
            now,
        )
        segments.create(
            s,
            actor,
            SegmentIn(
                name="上海客户",
                condition={"kind": "tag", "op": "any", "tags": [str(tags[0])]},  # type: ignore[arg-type]
            ),
            now,
        )
        accounts.save(
            s,
            actor,
            "bench-secret",
            now,
            row=None,
            channel="sms",
            kind="sandbox",
            name="sms",
            config={"mailbox": "bench"},
            is_default=True,
            rate_per_s=None,
            enabled=True,
        )
        sms = templates.save(
            s, actor, {"channel": "sms", "name": "提醒", "text": "{{ contact.name }}您好"}, now
        )
        graph = {
            "nodes": [
                {"id": "start", "kind": "entry", "trigger": {"type": "manual"}},
                {"id": "hold", "kind": "wait", "mode": "duration", "seconds": 86400},
                {
                    "id": "city",
                    "kind": "branch",
                    "condition": {"kind": "field", "field": "city", "op": "eq", "value": "上海"},
                },
                {"id": "local", "kind": "tag", "add": [tags[0]]},
                {"id": "away", "kind": "tag", "add": [tags[1]]},
                {"id": "sms", "kind": "send", "channel": "sms", "template_id": sms.id},
                {"id": "later", "kind": "wait", "mode": "duration", "seconds": 7 * 86400},
            ],
            "edges": [
                {"source": "start", "target": "hold"},
                {"source": "hold", "target": "city"},
                {"source": "city", "target": "local", "port": "yes"},
                {"source": "city", "target": "away", "port": "no"},
                {"source": "local", "target": "sms"},
                {"source": "away", "target": "sms"},
                {"source": "sms", "target": "later"},
            ],
        }
        journey = service.create(s, actor, "基准旅程", None, graph, now)
        service.publish(s, actor, journey.id, now)
        return journey.id, model.id


def _enrol(factory: Any, workspace_id: int, journey_id: int, contact_ids: list[int]) -> None:
    now = utcnow()
    due = now + timedelta(days=1)
    for start in range(0, len(contact_ids), CHUNK):
        chunk = contact_ids[start : start + CHUNK]
        rows = [
            {
                "workspace_id": workspace_id,
                "id": enrolment_id,
                "journey_id": journey_id,
                "version": 1,
                "contact_id": contact_id,
                "rotation": 1,
                "node_id": "hold",
                "status": "active",
                "due_at": due,
                "step": 1,
                "visits": {"start": 1, "hold": 1},
                "state": {"wait_until": due.isoformat()},
                "source": "api",
                "entered_at": now,
                "node_entered_at": now,
            }
            for enrolment_id, contact_id in zip(new_ids(len(chunk)), chunk, strict=True)
        ]
        with transaction(factory) as s:
            bulk_insert(s, JourneyEnrolment, rows)
    with transaction(factory) as s:
        analyze(s, "journey_enrolment")


def run(database_url: str, scale: str) -> dict[str, Any]:
    size = SCALES[scale]
    upgrade(database_url)
    engine = make_engine(database_url)
    factory = make_sessionmaker(engine)
    seed_started = time.perf_counter()
    workspace_id, user_id = _seed.workspace(factory, "journey-bench")
    journey_id, _ = _journey(factory, workspace_id, user_id)
    ids = _seed.contacts(
        factory,
        workspace_id,
        size["waiting"],
        lambda i: {"name": f"客户{i}", "phone": f"+86137{i:08d}", "city": CITIES[i % 4]},
    )
    _enrol(factory, workspace_id, journey_id, ids)
    seed_s = time.perf_counter() - seed_started

    idle = []
    for _ in range(20):  # nothing is due: a round must cost next to nothing
        started = time.perf_counter()
        assert runner.run_due(factory) == 0
        idle.append((time.perf_counter() - started) * 1000)

    now = utcnow()
    with transaction(factory) as s:
        due_ids = s.scalars(
            select(JourneyEnrolment.id)
            .where(JourneyEnrolment.workspace_id == workspace_id)
            .order_by(JourneyEnrolment.id)
            .limit(size["due"])
        ).all()
        for start in range(0, len(due_ids), CHUNK):
            s.execute(
                update(JourneyEnrolment)
                .where(
                    JourneyEnrolment.workspace_id == workspace_id,
                    JourneyEnrolment.id.in_(due_ids[start : start + CHUNK]),
                )
                .values(due_at=now, state={"wait_until": now.isoformat()})
            )
    started = time.perf_counter()
    moved = 0
    while n := runner.run_due(factory):
        moved += n
    elapsed = time.perf_counter() - started
    with transaction(factory) as s:
        steps = s.scalar(
            select(func.count()).where(
                JourneyStep.workspace_id == workspace_id, JourneyStep.at >= now
            )
        )
    engine.dispose()
    return {
        "scale": {"waiting": size["waiting"], "due": size["due"], "batch": runner.BATCH},
        "metrics": {
            "transitions_per_s": round((steps or 0) / elapsed),
            "enrolments_per_s": round(moved / elapsed),
            "idle_round_ms": round(statistics.median(idle), 2),
            "steps": steps,
            "seed_s": round(seed_s, 1),
        },
    }
