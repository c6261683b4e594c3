"""The crash test of the issue, on both databases: a journey that emails 20,000 contacts runs in
a real worker process (``guanxi worker``) against a real SMTP server, and the worker is killed
with SIGKILL several times mid-run and started again. Every contact completes the journey and
gets its email; the only repeats at the SMTP server are messages that were in flight at a kill,
each carrying the Message-ID of its first copy; the test prints how many there were."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select

from guanxi.kit.clock import utcnow
from guanxi.kit.ids import new_ids
from guanxi.message.dispatcher import RECORD_GROUP
from guanxi.models import Contact, JourneyEnrolment, Message
from tests.factories import Tenant, make_tenant
from tests.journey.test_runner import edge, journey, node
from tests.mail_sink import MailSink
from tests.message.support import smtp, template

CONTACTS = 20_000
KILLS = 3
POOL = 4  # SMTP connections; the connector keeps 2 sends per connection in flight


def _people(tenant: Tenant, count: int) -> list[int]:
    ids = new_ids(count)
    now = utcnow()
    rows = [
        {
            "workspace_id": tenant.workspace_id,
            "id": i,
            "name": f"客户{n}",
            "email": f"c{n}@crash.test",
            "status": "active",
            "custom": {},
            "created_at": now,
            "updated_at": now,
        }
        for n, i in enumerate(ids)
    ]
    with tenant.session() as s:
        s.execute(Contact.__table__.insert(), rows)  # type: ignore[attr-defined]
    return ids


def _worker(
    database_url: str, data_dir: Path, log: Any, lease_s: float = 3
) -> subprocess.Popen[bytes]:
    """``guanxi worker`` on the test's database; ``lease_s``: how long it holds a message it
    sends (short here, so that a killed worker's messages go again soon)."""
    env = {
        **os.environ,
        "GUANXI_DATABASE_URL": database_url,
        "GUANXI_DATA_DIR": str(data_dir),
        "GUANXI_SECRET_KEY": "test-secret-key-not-used-anywhere-else",
        "GUANXI_DISPATCH_LEASE_S": str(lease_s),
        "GUANXI_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(  # noqa: S603 - our own entry point
        [os.path.join(os.path.dirname(sys.executable), "guanxi"), "worker"],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )


def _progress(tenant: Tenant) -> tuple[int, int]:
    with tenant.session() as s:
        done = s.scalar(
            select(func.count()).where(
                JourneyEnrolment.workspace_id == tenant.workspace_id,
                JourneyEnrolment.status == "done",
            )
        )
        sent = s.scalar(
            select(func.count()).where(
                Message.workspace_id == tenant.workspace_id, Message.status == "sent"
            )
        )
    return int(done or 0), int(sent or 0)


def test_killing_the_worker_loses_no_step_and_repeats_only_what_was_in_flight(
    app: FastAPI, database_url: str, tmp_path: Path
) -> None:
    tenant = make_tenant(app)
    with MailSink() as sink:
        smtp(tenant, sink.port, pool_size=POOL)
        mail = template(tenant, "email", "通知", subject="{{ contact.name }}", html="<p>您好</p>")
        graph = {
            "nodes": [
                node("start", "entry", trigger={"type": "manual"}),
                node("mail", "send", channel="email", template_id=int(mail), marketing=False),
            ],
            "edges": [edge("start", "mail")],
        }
        jid = journey(tenant, graph)
        ids = [str(i) for i in _people(tenant, CONTACTS)]
        for start in range(0, len(ids), 1000):
            tenant.call(
                "POST",
                f"/journeys/{jid}/enrolments",
                json={"contact_ids": ids[start : start + 1000]},
            )

        log = (tmp_path / "worker.log").open("wb")
        proc = _worker(database_url, tmp_path, log)
        kills, deadline = 0, time.monotonic() + 900
        try:
            while time.monotonic() < deadline:
                time.sleep(0.5)
                done, sent = _progress(tenant)
                # the first kill while journeys advance, the others while emails go out
                due = done > 0 if kills == 0 else sent >= kills * CONTACTS // KILLS - 2000
                if kills < KILLS and due and sent < CONTACTS:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    kills += 1
                    print(
                        f"kill {kills}: {done} enrolments done, {sent} sent, {len(sink.received)} received"
                    )
                    proc = _worker(database_url, tmp_path, log)
                elif done == CONTACTS and sent == CONTACTS:
                    break
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            log.close()

        assert _progress(tenant) == (CONTACTS, CONTACTS), (tmp_path / "worker.log").read_text()[
            -3000:
        ]
        received = [(rcpt[0], m["Message-ID"]) for rcpt, m in sink.received]

    per_address = Counter(address for address, _ in received)
    ids_per_address: dict[str, set[str]] = {}
    for address, message_id in received:
        ids_per_address.setdefault(address, set()).add(message_id)
    assert len(per_address) == CONTACTS  # everyone got their email
    assert all(len(v) == 1 for v in ids_per_address.values())  # a repeat is the same message
    repeats = len(received) - CONTACTS
    window = 2 * POOL + 2 * RECORD_GROUP
    print(f"{kills} kills, {repeats} repeated deliveries (in-flight window {window} per kill)")
    assert kills == KILLS
    assert repeats <= kills * window
