"""REST API latency and throughput: authenticated reads through a real HTTP server.

A uvicorn process serves the app on loopback; two client threads with keep-alive connections
call a mix of ``GET /api/v1/me``, member pages (``/users?limit=50``, walking cursors) and single
members, with an API key (so every request authenticates, resolves the member and checks
scopes). Scale: small = 200 members and 2,000 requests; full = 10,000 members, 20,000 requests.
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
from typing import Any

import httpx

from guanxi.auth import service as auth
from guanxi.auth.permissions import Role
from guanxi.auth.schemas import ApiKeyIn
from guanxi.db import make_engine, make_sessionmaker, transaction
from guanxi.demo.generators import consumers
from guanxi.kit.clock import utcnow
from guanxi.kit.secrets import hash_password
from guanxi.migrate import upgrade
from guanxi.models import Membership, User
from guanxi.workspace import members

SCALES = {
    "small": {"members": 200, "requests": 2_000},
    "full": {"members": 10_000, "requests": 20_000},
}
CLIENTS = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed(url: str, n: int) -> tuple[str, list[int]]:
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    stamp = time.time_ns()
    with transaction(factory) as s:
        owner, workspace = members.create_owner(
            s,
            email=f"bench-{stamp}@bench.local",
            name="Bench",
            password="bench-password",
            language="en",
        )
        shared_hash = hash_password("bench-password")  # one hash: argon2 per row is not the subject
        ids = []
        for i, person in enumerate(consumers(stamp % 10_000, n)):
            user = User(
                email=f"m{i}-{stamp}@bench.local", name=person.name, password_hash=shared_hash
            )
            s.add(user)
            s.flush()
            s.add(
                Membership(
                    workspace_id=workspace.id,
                    user_id=user.id,
                    role=Role.sales.value,
                    data_scope="own",
                )
            )
            ids.append(user.id)
        s.flush()
        principal = auth.principal_for(members.find_member(s, workspace.id, owner.id)[1])
        _, key = auth.create_api_key(s, principal, ApiKeyIn(name="bench", scopes=["*"]), utcnow())
    engine.dispose()
    return key, ids


def _client_loop(
    base: str, key: str, ids: list[int], count: int, seed: int, out: list[float], errors: list[int]
) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {key}"}
    cursor: str | None = None
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for _ in range(count):
            pick = rng.random()
            if pick < 0.2:
                url = "/api/v1/me"
            elif pick < 0.6:
                url = "/api/v1/users?limit=50" + (f"&cursor={cursor}" if cursor else "")
            else:
                url = f"/api/v1/users/{rng.choice(ids)}"
            started = time.perf_counter()
            r = client.get(url)
            out.append((time.perf_counter() - started) * 1000)
            if r.status_code != 200:
                errors.append(r.status_code)
            elif url.startswith("/api/v1/users?"):
                cursor = r.json()["next_cursor"]


def run(database_url: str, scale: str) -> dict[str, Any]:
    size = SCALES[scale]
    upgrade(database_url)
    seed_started = time.perf_counter()
    key, ids = _seed(database_url, size["members"])
    seed_s = time.perf_counter() - seed_started
    port = _free_port()
    env = {**os.environ, "GUANXI_DATABASE_URL": database_url, "GUANXI_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "guanxi.app:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        latencies: list[float] = []
        errors: list[int] = []
        per_client = size["requests"] // CLIENTS
        threads = [
            threading.Thread(
                target=_client_loop, args=(base, key, ids, per_client, i, latencies, errors)
            )
            for i in range(CLIENTS)
        ]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(10)
    q = statistics.quantiles(latencies, n=100)
    return {
        "scale": {**size, "clients": CLIENTS},
        "metrics": {
            "requests_per_s": round(len(latencies) / wall, 1),
            "p50_ms": round(q[49], 2),
            "p95_ms": round(q[94], 2),
            "p99_ms": round(q[98], 2),
            "errors": len(errors),
            "seed_s": round(seed_s, 2),
        },
    }
