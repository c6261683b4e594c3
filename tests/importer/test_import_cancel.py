"""Cancelling an import leaves the workspace as it was: merges undone, links and identities it
added removed, values put back — also for an import that failed, or was cancelled after its
last batch. Problems are reported in the language the import was started in."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi import db
from guanxi.importer import service
from guanxi.worker import jobs
from tests.factories import make_tenant
from tests.importer.test_import import contacts_in, start, upload, work


def test_cancel_undoes_merges_links_and_filled_values(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    c = client.post("/api/v1/contacts", json={"name": "C", "email": "c@x.cn"}, headers=h).json()
    d = client.post(
        "/api/v1/contacts", json={"name": "D", "phone": "13800000042"}, headers=h
    ).json()
    e = client.post(
        "/api/v1/contacts", json={"name": "E", "phone": "13800000043"}, headers=h
    ).json()
    client.post("/api/v1/accounts", json={"name": "Acme"}, headers=h)
    monkeypatch.setattr(service, "BATCH", 1)
    content = (
        "phone,email,title,company\n"
        "13800000042,c@x.cn,CTO,Acme\n"  # merges C and D, fills the title, links to Acme
        "13800000043,,,Acme\n"  # links E to Acme
        "13900000001,,,\n"  # a new contact, while the cancel comes
    )
    up = upload(client, tenant, content.encode())
    job = start(
        client,
        tenant,
        up["file_id"],
        {"phone": "phone", "email": "email", "title": "title", "company": "account.name"},
        dedup="merge",
    )
    original, calls = service.plan, {"n": 0}

    def plan(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            with tenant.session() as s:
                jobs.request_cancel(s, tenant.workspace_id, int(job))
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "plan", plan)
    work(app)
    assert client.get(f"/api/v1/imports/{job}", headers=h).json()["status"] == "cancelled"
    assert contacts_in(tenant) == 3
    for person, name in ((c, "C"), (d, "D"), (e, "E")):
        view = client.get(f"/api/v1/contacts/{person['id']}", headers=h).json()
        assert (view["contact"]["name"], view["contact"]["status"]) == (name, "active")
        assert view["contact"]["title"] is None
        assert view["accounts"] == []
        assert len(view["identities"]) == 1


def test_a_failed_import_can_be_cancelled_and_is_rolled_back(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    monkeypatch.setattr(service, "BATCH", 2)
    up = upload(
        client, tenant, ("phone\n" + "".join(f"1370000{i:04d}\n" for i in range(8))).encode()
    )
    job = start(client, tenant, up["file_id"], {"phone": "phone"})
    original, calls = service.plan, {"n": 0}

    def breaks_on_third(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("the database went away")
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "plan", breaks_on_third)
    work(app)
    assert client.get(f"/api/v1/imports/{job}", headers=h).json()["status"] == "failed"
    assert contacts_in(tenant) == 4  # two batches had committed
    r = client.post(f"/api/v1/imports/{job}/cancel", headers=h)
    assert r.status_code == 200, r.text
    work(app)
    assert client.get(f"/api/v1/imports/{job}", headers=h).json()["status"] == "cancelled"
    assert contacts_in(tenant) == 0
    assert client.post(f"/api/v1/imports/{job}/cancel", headers=h).status_code == 409


def test_a_cancel_after_the_last_batch_still_rolls_back(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    up = upload(client, tenant, b"phone\n13700000001\n13700000002\n")
    job = start(client, tenant, up["file_id"], {"phone": "phone"})
    original = db.analyze

    def analyze(*args: Any) -> None:  # the user clicks cancel while statistics are refreshed
        with tenant.session() as s:
            jobs.request_cancel(s, tenant.workspace_id, int(job))
        original(*args)

    monkeypatch.setattr(service, "analyze", analyze)
    work(app)
    assert client.get(f"/api/v1/imports/{job}", headers=h).json()["status"] == "cancelled"
    assert contacts_in(tenant) == 0


@pytest.mark.parametrize(
    ("language", "expected"),
    [("zh-CN", "不是有效的电话号码：12345"), ("en", "not a valid phone number: 12345")],
)
def test_problems_are_reported_in_the_language_the_import_was_started_in(
    app: FastAPI, language: str, expected: str
) -> None:
    tenant = make_tenant(app)
    client = TestClient(app, headers={"Accept-Language": language})
    h = tenant.admin.auth
    up = upload(client, tenant, b"phone\n12345\n")
    job = start(client, tenant, up["file_id"], {"phone": "phone"})
    work(app)
    problems = client.get(f"/api/v1/imports/{job}/problems", headers=h).json()["items"]
    assert [(p["reason"], p["message"]) for p in problems] == [("invalid_phone", expected)]
    # the API's own validation speaks the caller's language too
    r = client.post("/api/v1/contacts", json={"phone": "12345"}, headers=h)
    assert r.status_code == 422
    assert [d["msg"] for d in r.json()["error"]["details"]] == [expected]


def test_a_cancel_after_the_last_checkpoint_rolls_back_on_the_next_claim(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    up = upload(client, tenant, b"phone\n13700000011\n")
    job = start(client, tenant, up["file_id"], {"phone": "phone"})
    original = service.run

    def run(context: Any, path: Any) -> str:
        status = original(context, path)
        with tenant.session() as s:  # the click lands between the handler and its status
            jobs.request_cancel(s, tenant.workspace_id, int(job))
        return status

    monkeypatch.setattr(service, "run", run)
    work(app)
    assert client.get(f"/api/v1/imports/{job}", headers=h).json()["status"] == "cancelled"
    assert contacts_in(tenant) == 0
