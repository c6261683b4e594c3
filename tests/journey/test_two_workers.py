"""Two worker processes on one PostgreSQL database run one journey at the same time (SQLite runs
one worker by design, so this test is PostgreSQL's): every enrolment takes each step exactly
once, every contact gets exactly one message, and both workers did part of the work."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from guanxi.models import JourneyStep, MessageAttempt
from tests.factories import make_tenant
from tests.journey.test_crash import _people, _progress, _worker
from tests.journey.test_runner import edge, journey, node
from tests.mail_sink import MailSink
from tests.message.support import smtp, template

CONTACTS = 4000


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_workers_never_take_the_same_step(
    app: FastAPI, database_url: str, tmp_path: Path
) -> None:
    tenant = make_tenant(app)
    with MailSink() as sink:
        smtp(tenant, sink.port)
        mail = template(tenant, "email", "双工", subject="{{ contact.name }}", html="<p>hi</p>")
        graph = {
            "nodes": [
                node("start", "entry", trigger={"type": "manual"}),
                node("pause", "wait", mode="duration", seconds=1),
                node("mail", "send", channel="email", template_id=int(mail), marketing=False),
                node(
                    "tag", "tag", add=[int(tenant.call("POST", "/tags", json={"name": "双"})["id"])]
                ),
            ],
            "edges": [edge("start", "pause"), edge("pause", "mail"), edge("mail", "tag")],
        }
        jid = journey(tenant, graph)
        ids = [str(i) for i in _people(tenant, CONTACTS)]
        logs = [(tmp_path / f"w{n}.log").open("wb") for n in range(2)]
        workers = [_worker(database_url, tmp_path, log, lease_s=120) for log in logs]
        try:
            for start in range(0, len(ids), 1000):
                tenant.call(
                    "POST",
                    f"/journeys/{jid}/enrolments",
                    json={"contact_ids": ids[start : start + 1000]},
                )
            deadline = time.monotonic() + 300
            while _progress(tenant) != (CONTACTS, CONTACTS) and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            for proc in workers:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            for log in logs:
                log.close()
        assert _progress(tenant) == (CONTACTS, CONTACTS)
        received = Counter(rcpt[0] for rcpt, _ in sink.received)

    assert len(received) == CONTACTS
    assert set(received.values()) == {1}
    with tenant.session() as s:
        steps = Counter(
            s.execute(
                select(JourneyStep.node_id, JourneyStep.outcome).where(
                    JourneyStep.workspace_id == tenant.workspace_id
                )
            ).all()
        )
        senders = s.scalar(
            select(func.count(func.distinct(MessageAttempt.worker))).where(
                MessageAttempt.workspace_id == tenant.workspace_id
            )
        )
    assert steps[("start", "done")] == CONTACTS
    assert steps[("mail", "done")] == CONTACTS
    assert steps[("tag", "done")] == CONTACTS
    assert steps[("pause", "done")] == CONTACTS
    assert senders == 2  # both workers sent part of the messages
