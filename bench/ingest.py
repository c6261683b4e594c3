"""Event ingestion at scale: batches of 1,000 mixed events through the in-process pipeline and
through the HTTP API, beside a raw insert of the same rows (the ceiling of the storage).

The workspace holds N contacts (loaded with COPY: the import is not the subject), each with a
phone, a third with a WeChat openid and a fifth with a browser's anonymous id. Each batch mixes
page views (anonymous id, with URL, title, referrer and UTM tags), WeChat events (follow, menu
click, message, by openid) and orders, form submits and calls (by phone), with idempotency keys
and times over the last week; 2% of page views come from new visitors (a contact is created).
Everything a user has on is on: catalogue checks, identity resolution, idempotency, monthly
partitions, and the whole reactor pipeline on a workspace set up as a marketer would (``_setup``):
attribution, two auto-tag rules, a half-life scoring model with six rules (caps, a property
filter, a fit rule), and three dynamic segments (behaviour in a window, orders, a score
threshold) kept current with their timers. Scale: small = 20,000 contacts, 20 batches in
process and 10 over HTTP; full = 1,000,000 contacts, 200 and 100 batches (the issue's goal:
≥ 50,000 events/s in process, ≥ 20,000 over HTTP with 2 client connections, on PostgreSQL).
"""

from __future__ import annotations

import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session

from guanxi.auth import service as auth
from guanxi.auth.principal import Principal
from guanxi.auth.schemas import ApiKeyIn
from guanxi.db import analyze, bulk_insert, make_engine, make_sessionmaker, transaction
from guanxi.event import ingest, partitions
from guanxi.kit.clock import utcnow
from guanxi.kit.ids import new_ids
from guanxi.migrate import upgrade
from guanxi.models import Contact, Event, Identity, Tag, TagRule
from guanxi.scoring import service as scoring
from guanxi.scoring.schemas import ModelIn, RuleIn
from guanxi.segment import manage as segments
from guanxi.segment.schemas import SegmentIn
from guanxi.workspace import members

SCALES = {
    "small": {"contacts": 20_000, "batches": 20, "http_batches": 10},
    "full": {"contacts": 1_000_000, "batches": 200, "http_batches": 100},
}
BATCH = 1000
CLIENTS = 2
APPID = "wx_bench"
CHUNK = 50_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed(url: str, n: int) -> tuple[int, str]:
    """A workspace with ``n`` contacts and their identities; returns (workspace id, API key)."""
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    stamp = time.time_ns()
    with transaction(factory) as s:
        owner, workspace = members.create_owner(
            s,
            email=f"ingest-{stamp}@bench.local",
            name="Bench",
            password="bench-password",
            language="en",
        )
        principal = auth.principal_for(members.find_member(s, workspace.id, owner.id)[1])
        _, key = auth.create_api_key(s, principal, ApiKeyIn(name="bench", scopes=["*"]), utcnow())
        _setup(s, principal)
    now = utcnow()
    for start in range(0, n, CHUNK):
        count = min(CHUNK, n - start)
        ids = new_ids(count)
        contacts, identities = [], []
        for i, contact_id in zip(range(start, start + count), ids, strict=True):
            contacts.append(
                {
                    "workspace_id": workspace.id,
                    "id": contact_id,
                    "custom": {},
                    "status": "active",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            keys = [("phone", "", f"+86139{i:08d}")]
            if i % 3 == 0:
                keys.append(("wechat_openid", APPID, f"o-{i}"))
            if i % 5 == 0:
                keys.append(("anonymous_id", "", f"anon-{i}"))
            for kind, namespace, value in keys:
                identities.append(
                    {
                        "workspace_id": workspace.id,
                        "contact_id": contact_id,
                        "kind": kind,
                        "namespace": namespace,
                        "value": value,
                        "created_at": now,
                    }
                )
        for row, identity_id in zip(identities, new_ids(len(identities)), strict=True):
            row["id"] = identity_id
        with transaction(factory) as s:
            bulk_insert(s, Contact, contacts)
            bulk_insert(s, Identity, identities)
    with transaction(factory) as s:
        analyze(s, "contact", "identity")
    engine.dispose()
    return workspace.id, key


def _setup(s: Session, actor: Principal) -> None:
    """What a marketer would have on: tag rules, a scoring model, dynamic segments."""
    now = utcnow()
    ws = actor.workspace_id
    for name, event_type, where in (
        ("线索 lead", "form_submit", []),
        ("展会 expo", "follow", [{"property": "channel_code", "op": "eq", "value": "expo"}]),
    ):
        tag = Tag(workspace_id=ws, name=name, type="fact", created_at=now)
        s.add(tag)
        s.flush()
        s.add(
            TagRule(
                workspace_id=ws,
                name=name,
                tag_id=tag.id,
                event_type=event_type,
                where=where,
                created_at=now,
            )
        )
    model = scoring.create_model(
        s, actor, ModelIn(name="Engagement", decay="half_life", decay_days=30), now
    )
    rules = [
        {
            "kind": "engagement",
            "name": "view",
            "event_type": "page_view",
            "points": 1,
            "cap": 10,
            "cap_days": 1,
        },
        {"kind": "engagement", "name": "follow", "event_type": "follow", "points": 5},
        {
            "kind": "engagement",
            "name": "pricing menu",
            "event_type": "menu_click",
            "where": [{"property": "key", "op": "eq", "value": "pricing"}],
            "points": 3,
        },
        {"kind": "engagement", "name": "form", "event_type": "form_submit", "points": 20},
        {
            "kind": "engagement",
            "name": "big order",
            "event_type": "order",
            "where": [{"property": "amount", "op": "gte", "value": 1000}],
            "points": 30,
        },
        {
            "kind": "fit",
            "name": "reachable",
            "condition": {"kind": "field", "field": "phone", "op": "is_set"},
            "points": 5,
        },
    ]
    for rule in rules:
        scoring.create_rule(s, actor, model.id, RuleIn.model_validate(rule), now)
    for name, condition in (
        (
            "Active",
            {"kind": "event", "type": "page_view", "window": {"days": 7}, "op": "gte", "value": 3},
        ),
        (
            "Buyers",
            {"kind": "event", "type": "order", "window": {"days": 30}, "op": "gte", "value": 1},
        ),
        ("Engaged", {"kind": "score", "model": str(model.id), "op": "gte", "value": 30}),
    ):
        segments.create(
            s, actor, SegmentIn.model_validate({"name": name, "condition": condition}), now
        )


def make_batch(rng: random.Random, n: int, tag: str, now: datetime) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for i in range(BATCH):
        person = rng.randrange(n)
        at = (now - timedelta(seconds=rng.randrange(7 * 86400))).isoformat()
        pick = rng.random()
        event: dict[str, Any] = {"occurred_at": at, "idempotency_key": f"{tag}-{i}"}
        if pick < 0.4:
            visitor = f"anon-{person - person % 5}" if rng.random() > 0.02 else f"new-{tag}-{i}"
            event |= {
                "type": "page_view",
                "anonymous_id": visitor,
                "channel": "web",
                "properties": {
                    "url": f"https://www.example.cn/products/{rng.randrange(500)}?utm_source=baidu",
                    "title": "产品详情 Product",
                    "referrer": "https://www.baidu.com/s?wd=crm",
                    "utm_source": "baidu",
                    "utm_medium": "cpc",
                    "utm_campaign": f"c{rng.randrange(20)}",
                },
            }
        elif pick < 0.7:
            kind = rng.choice(["follow", "menu_click", "message_in"])
            props = {
                "follow": {"channel_code": "expo"},
                "menu_click": {"key": "pricing"},
                "message_in": {"text": "你好，想了解价格"},
            }[kind]
            event |= {
                "type": kind,
                "channel": "wechat",
                "identities": [
                    {
                        "kind": "wechat_openid",
                        "namespace": APPID,
                        "value": f"o-{person - person % 3}",
                    }
                ],
                "properties": props,
            }
        else:
            kind = rng.choice(["order", "form_submit", "call"])
            props = {
                "order": {
                    "order_id": f"{tag}-{i}",
                    "amount": rng.randrange(100, 50000) / 10,
                    "currency": "CNY",
                },
                "form_submit": {"form_id": "demo", "utm_source": "wechat"},
                "call": {"duration_s": rng.randrange(30, 900), "direction": "out"},
            }[kind]
            event |= {
                "type": kind,
                "channel": "crm",
                "identities": [{"kind": "phone", "value": f"+86139{person:08d}"}],
                "properties": props,
            }
        events.append(event)
    return events


def _pipeline(
    url: str, workspace_id: int, batches: list[list[dict[str, Any]]]
) -> tuple[float, list[float], int]:
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    latencies = []
    rejected = 0
    started = time.perf_counter()
    for batch in batches:
        t = time.perf_counter()
        with transaction(factory) as s:
            results = ingest.ingest(s, workspace_id, batch, source="bench", now=utcnow())
        rejected += sum(r.status == "rejected" for r in results)
        latencies.append((time.perf_counter() - t) * 1000)
    wall = time.perf_counter() - started
    engine.dispose()
    return wall, latencies, rejected


def _http(url: str, key: str, batches: list[list[dict[str, Any]]]) -> tuple[float, int]:
    port = _free_port()
    workers = "2" if url.startswith("postgresql") else "1"  # SQLite takes one writer
    env = {**os.environ, "GUANXI_DATABASE_URL": url, "GUANXI_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "guanxi.app:create_app",
            "--factory",
            "--port",
            str(port),
            "--workers",
            workers,
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    errors: list[int] = []
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)

        def client(mine: list[list[dict[str, Any]]]) -> None:
            with httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120
            ) as c:
                for batch in mine:
                    r = c.post("/api/v1/events/batch", json={"events": batch, "source": "bench"})
                    if r.status_code != 200 or r.json()["rejected"]:
                        errors.append(r.status_code)

        threads = [
            threading.Thread(target=client, args=(batches[i::CLIENTS],)) for i in range(CLIENTS)
        ]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(30)
    return wall, len(errors)


def _raw(url: str, workspace_id: int, count: int, rng: random.Random, now: datetime) -> float:
    """The same number of rows, already resolved, straight into ``event`` (same partitions and
    indexes, COPY on PostgreSQL) in batches of 1,000: what storage alone allows."""
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    batches = []
    for _ in range(count):
        ids = new_ids(BATCH)
        batches.append(
            [
                {
                    "workspace_id": workspace_id,
                    "id": event_id,
                    "contact_id": rng.randrange(1, 2**60),
                    "origin_contact_id": 1,
                    "type": "page_view",
                    "occurred_at": now - timedelta(seconds=rng.randrange(7 * 86400)),
                    "received_at": now,
                    "channel": "web",
                    "source": "raw",
                    "properties": {
                        "url": f"https://www.example.cn/products/{rng.randrange(500)}",
                        "title": "产品详情 Product",
                        "utm_source": "baidu",
                    },
                }
                for event_id in ids
            ]
        )
    partitions.ensure(engine, [now - timedelta(days=8), now])
    started = time.perf_counter()
    for rows in batches:
        with transaction(factory) as s:
            bulk_insert(s, Event, rows)
    wall = time.perf_counter() - started
    engine.dispose()
    return wall


def run(database_url: str, scale: str) -> dict[str, Any]:
    size = SCALES[scale]
    upgrade(database_url)
    seed_started = time.perf_counter()
    workspace_id, key = _seed(database_url, size["contacts"])
    seed_s = time.perf_counter() - seed_started
    rng = random.Random(11)
    now = utcnow()
    stamp = time.time_ns()
    pipeline_batches = [
        make_batch(rng, size["contacts"], f"p{stamp}-{b}", now) for b in range(size["batches"])
    ]
    http_batches = [
        make_batch(rng, size["contacts"], f"h{stamp}-{b}", now) for b in range(size["http_batches"])
    ]
    pipeline_s, latencies, rejected = _pipeline(database_url, workspace_id, pipeline_batches)
    http_s, http_errors = _http(database_url, key, http_batches)
    raw_s = _raw(database_url, workspace_id, size["batches"], rng, now)
    events = size["batches"] * BATCH
    return {
        "scale": {
            "contacts": size["contacts"],
            "batch": BATCH,
            "pipeline_events": events,
            "http_events": size["http_batches"] * BATCH,
            "http_clients": CLIENTS,
        },
        "metrics": {
            "pipeline_events_per_s": round(events / pipeline_s),
            "http_events_per_s": round(size["http_batches"] * BATCH / http_s),
            "insert_events_per_s": round(events / raw_s),
            "batch_p50_ms": round(statistics.median(latencies), 1),
            "batch_p95_ms": round(statistics.quantiles(latencies, n=20)[18], 1)
            if len(latencies) > 1
            else round(latencies[0], 1),
            "rejected": rejected,
            "http_errors": http_errors,
            "seed_s": round(seed_s, 1),
        },
    }
