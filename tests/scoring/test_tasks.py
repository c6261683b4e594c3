"""The re-score job on both databases: it resumes after its last checkpoint when its worker
dies, ends with the model's version scored, leaves a later rule change to the job that change
queued, and ends quietly when its model was deleted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from guanxi.db import transaction
from guanxi.kit.clock import utcnow
from guanxi.models import ContactScore, Job, ScoreModel
from guanxi.scoring import tasks
from guanxi.worker.jobs import run_one
from tests.factories import make_tenant
from tests.scoring.test_api import FORM, Api, form


def drain(app: FastAPI) -> None:
    while run_one(app.state.sessionmaker, app.state.settings.data_dir):
        pass


def rescore_jobs(api: Api) -> list[Job]:
    with api.tenant.session() as s:
        rows = s.scalars(
            select(Job)
            .where(Job.workspace_id == api.tenant.workspace_id, Job.kind == "rescore")
            .order_by(Job.id)
        ).all()
        s.expunge_all()
        return list(rows)


def versions(api: Api, model_id: str) -> tuple[int, int]:
    with api.tenant.session() as s:
        model = s.get(ScoreModel, (api.tenant.workspace_id, int(model_id)))
        assert model is not None
        return model.version, model.scored_version


def expire(api: Api, job_id: int) -> None:
    """The dead worker's lease runs out."""
    with api.tenant.session() as s:
        row = s.get(Job, (api.tenant.workspace_id, job_id))
        assert row is not None
        assert row.status == "running"
        row.lease_until = row.started_at


class Killer:
    """Scores chunks as the job would, recording them; the ``die_on``-th call kills the worker
    (a BaseException, as a signal would: the job is left running, not failed)."""

    def __init__(self, die_on: int | None) -> None:
        self.original, self.die_on, self.chunks = tasks.rescore_contacts, die_on, []
        self.calls = 0

    def __call__(self, session: Any, ws: int, rules: Any, ids: Sequence[int], now: Any) -> None:
        self.calls += 1
        if self.calls == self.die_on:
            raise KeyboardInterrupt("the worker was killed")
        self.chunks.append(list(ids))
        self.original(session, ws, rules, ids, now)


def setup(app: FastAPI, people: int) -> tuple[Api, dict[str, Any], dict[str, Any], list[str]]:
    drain(app)  # other tests' jobs: only this one's will be claimed below
    api = Api(app, make_tenant(app))
    model = api.model(name="Eng")
    rule = api.rule(model, FORM)
    drain(app)
    who = [api.contact(f"t{i}@acme.cn") for i in range(people)]
    api.events(*(form(f"t{i}@acme.cn") for i in range(people)))
    assert [api.scores(c)["Eng"]["score"] for c in who] == [20.0] * people
    return api, model, rule, who


def test_the_job_resumes_after_its_last_checkpoint(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, model, rule, who = setup(app, 5)
    monkeypatch.setattr(tasks, "CHUNK", 2)
    api.call("PUT", f"/scoring/rules/{rule['id']}", json={**FORM, "points": 5})
    assert versions(api, model["id"]) == (3, 2)
    killer = Killer(die_on=2)
    monkeypatch.setattr(tasks, "rescore_contacts", killer)
    with pytest.raises(KeyboardInterrupt):
        run_one(app.state.sessionmaker, app.state.settings.data_dir)
    # the first chunk committed with its checkpoint; the others keep their old score
    assert [api.scores(c)["Eng"]["score"] for c in who] == [5.0, 5.0, 20.0, 20.0, 20.0]
    job = rescore_jobs(api)[-1]
    assert job.progress == {"after": int(who[1]), "done": 2, "version": 3}
    assert versions(api, model["id"]) == (3, 2)

    expire(api, job.id)
    resumed = Killer(die_on=None)
    monkeypatch.setattr(tasks, "rescore_contacts", resumed)
    assert run_one(app.state.sessionmaker, app.state.settings.data_dir)
    assert resumed.chunks == [[int(c) for c in who[2:4]], [int(who[4])]]
    assert [api.scores(c)["Eng"]["score"] for c in who] == [5.0] * 5
    job = rescore_jobs(api)[-1]
    assert (job.status, job.progress) == ("done", {"after": int(who[4]), "done": 5, "version": 3})
    assert versions(api, model["id"]) == (3, 3)
    ledger = api.call("GET", f"/contacts/{who[0]}/scores/{model['id']}/points")["items"]
    assert [p["points"] for p in ledger] == [5.0]


def test_a_rule_changed_during_the_job_is_left_to_the_next_job(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, model, rule, who = setup(app, 3)
    monkeypatch.setattr(tasks, "CHUNK", 1)
    api.call("PUT", f"/scoring/rules/{rule['id']}", json={**FORM, "points": 5})
    monkeypatch.setattr(tasks, "rescore_contacts", Killer(die_on=2))
    with pytest.raises(KeyboardInterrupt):
        run_one(app.state.sessionmaker, app.state.settings.data_dir)
    first = rescore_jobs(api)[-1]
    # the job runs: the change queues another one
    api.call("PUT", f"/scoring/rules/{rule['id']}", json={**FORM, "points": 7})
    assert versions(api, model["id"]) == (4, 2)
    assert [j.status for j in rescore_jobs(api)] == ["done", "running", "pending"]
    expire(api, first.id)
    monkeypatch.setattr(tasks, "rescore_contacts", Killer(die_on=None))
    assert run_one(app.state.sessionmaker, app.state.settings.data_dir)
    # the first job scored with version 3's rules at first: only version 3 is everyone's
    assert [j.status for j in rescore_jobs(api)] == ["done", "done", "pending"]
    assert versions(api, model["id"]) == (4, 3)
    drain(app)
    assert versions(api, model["id"]) == (4, 4)
    assert [api.scores(c)["Eng"]["score"] for c in who] == [7.0] * 3


def test_a_deleted_model_ends_the_job_quietly(app: FastAPI) -> None:
    api, model, rule, _ = setup(app, 2)
    api.call("PUT", f"/scoring/rules/{rule['id']}", json={**FORM, "points": 5})
    api.call("DELETE", f"/scoring/models/{model['id']}", 204)
    job = rescore_jobs(api)[-1]
    assert job.status == "pending"
    assert run_one(app.state.sessionmaker, app.state.settings.data_dir)
    job = rescore_jobs(api)[-1]
    assert (job.status, job.error, job.progress) == ("done", None, {})


def test_rebase_moves_the_epoch_and_keeps_every_score(app: FastAPI) -> None:
    """A one-day half-life 100 days after its epoch: the anchors are 2^100 times the points;
    the daily rebase brings them back down and nobody's score moves."""
    drain(app)
    api = Api(app, make_tenant(app))
    model = api.model(name="Fast", decay="half_life", decay_days=1)
    api.rule(model, FORM)
    drain(app)
    with api.tenant.session() as s:  # as if the model were made 100 days ago
        row = s.get(ScoreModel, (api.tenant.workspace_id, int(model["id"])))
        assert row is not None
        row.epoch -= timedelta(days=100)
        s.commit()
    who = api.contact("fast@acme.cn")
    api.events(form("fast@acme.cn"))
    before = api.scores(who)["Fast"]["score"]
    assert before == 20.0
    with transaction(app.state.sessionmaker) as s:
        anchored = s.scalar(
            select(ContactScore.engagement).where(ContactScore.contact_id == int(who))
        )
        assert anchored is not None
        assert anchored > 2.0**99
        tasks.rebase(s, utcnow())
    with api.tenant.session() as s:
        row = s.get(ScoreModel, (api.tenant.workspace_id, int(model["id"])))
        assert row is not None
        assert utcnow() - row.epoch < timedelta(days=1)
        anchored = s.scalar(
            select(ContactScore.engagement).where(ContactScore.contact_id == int(who))
        )
        assert anchored is not None
        assert anchored < 40
    assert api.scores(who)["Fast"]["score"] == before


def test_segments_and_stages_follow_a_rescore(app: FastAPI) -> None:
    api, model, rule, who = setup(app, 1)
    high = {"kind": "score", "model": model["id"], "op": "gte", "value": 50}
    segment = api.call("POST", "/segments", 201, json={"name": "High", "condition": high})
    mql = next(s for s in api.call("GET", "/lifecycle/stages")["items"] if s["key"] == "mql")
    api.call("PATCH", f"/lifecycle/stages/{mql['id']}", json={"entry_rule": high})
    drain(app)
    assert api.call("GET", f"/segments/{segment['id']}")["member_count"] == 0
    api.call("PUT", f"/scoring/rules/{rule['id']}", json={**FORM, "points": 60})
    drain(app)
    assert api.scores(who[0])["Eng"]["score"] == 60.0
    members = api.call("GET", f"/segments/{segment['id']}/members")["items"]
    assert [m["id"] for m in members] == [who[0]]
    assert api.call("GET", f"/contacts/{who[0]}")["contact"]["stage"] == "mql"


def test_changing_or_pausing_the_decay_keeps_todays_scores(app: FastAPI) -> None:
    drain(app)
    api = Api(app, make_tenant(app))
    model = api.model(name="Slow", decay="half_life", decay_days=7)
    api.rule(model, FORM)
    drain(app)
    with api.tenant.session() as s:  # as if the model were four weeks old
        row = s.get(ScoreModel, (api.tenant.workspace_id, int(model["id"])))
        assert row is not None
        row.epoch -= timedelta(days=28)
        s.commit()
    who = api.contact("slow@acme.cn")
    api.events(form("slow@acme.cn"))
    assert api.scores(who)["Slow"]["score"] == 20.0
    body = {"name": "Slow", "decay": "half_life", "decay_days": 14}
    api.call("PUT", f"/scoring/models/{model['id']}", json=body)
    assert api.scores(who)["Slow"]["score"] == 20.0  # before the job replays the points
    drain(app)
    assert api.scores(who)["Slow"]["score"] == 20.0
    api.call("PUT", f"/scoring/models/{model['id']}", json={**body, "enabled": False})
    assert api.scores(who)["Slow"]["score"] == 20.0
    assert rescore_jobs(api)[-1].status == "done"  # pausing queues nothing
