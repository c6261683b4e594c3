"""Scenario 3 of DOMAIN.md through the API, on both databases: two leads with the same actions a
year apart score differently (decay); a negative rule takes points away and a cap stops a rule
from piling up; a student email domain lowers the fit; two models give a combined score; score
changes are on the timeline; a rule change re-scores everyone through the job."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

import guanxi.scoring.tasks  # noqa: F401  (registers the re-score job)
from guanxi.kit.clock import utcnow
from guanxi.worker.jobs import run_one
from tests.factories import Tenant, make_tenant


def actions(email: str, days_ago: float, tag: str) -> list[dict[str, Any]]:
    at = (utcnow() - timedelta(days=days_ago)).isoformat()
    who = [{"kind": "email", "value": email}]
    views = [
        {
            "type": "page_view",
            "occurred_at": at,
            "properties": {"url": "https://x.cn/pricing"},
            "identities": who,
            "idempotency_key": f"{tag}-pv-{i}",
        }
        for i in range(5)  # 5 × 10 points, capped at 30 a week
    ]
    return [
        *views,
        {
            "type": "form_submit",
            "occurred_at": at,
            "properties": {"form_id": "1"},
            "identities": who,
            "idempotency_key": f"{tag}-form",
        },
    ]


def scores(client: TestClient, tenant: Tenant, contact_id: str) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in tenant.call("GET", f"/contacts/{contact_id}/scores")}


def test_scenario_3_decay_negative_rules_two_models_combined(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    engagement = tenant.call(
        "POST",
        "/scoring/models",
        json={"name": "Engagement", "decay": "half_life", "decay_days": 30},
    )
    fit = tenant.call("POST", "/scoring/models", json={"name": "Fit"})
    rules = f"/scoring/models/{engagement['id']}/rules"
    pricing = {
        "kind": "engagement",
        "name": "Pricing page",
        "event_type": "page_view",
        "where": [{"property": "url", "op": "contains", "value": "/pricing"}],
        "points": 10,
        "cap": 30,
        "cap_days": 7,
    }
    tenant.call("POST", rules, json=pricing)
    tenant.call(
        "POST",
        rules,
        json={"kind": "engagement", "name": "Form", "event_type": "form_submit", "points": 20},
    )
    tenant.call(
        "POST",
        rules,
        json={
            "kind": "engagement",
            "name": "Unsubscribed",
            "event_type": "email_unsubscribed",
            "points": -15,
        },
    )
    fit_rules = f"/scoring/models/{fit['id']}/rules"
    manager = {"kind": "field", "field": "title", "op": "contains", "value": "经理"}
    student = {"kind": "field", "field": "email", "op": "contains", "value": ".edu."}
    tenant.call(
        "POST",
        fit_rules,
        json={"kind": "fit", "name": "Manager", "condition": manager, "points": 80},
    )
    tenant.call(
        "POST",
        fit_rules,
        json={"kind": "fit", "name": "Student", "condition": student, "points": -60},
    )
    combined = tenant.call(
        "POST",
        "/scoring/models",
        json={
            "name": "Combined",
            "kind": "combined",
            "weights": {engagement["id"]: 0.7, fit["id"]: 0.3},
        },
    )

    people = {}
    for key, email in (
        ("old", "old@acme.cn"),
        ("new", "new@acme.cn"),
        ("student", "li@pku.edu.cn"),
    ):
        people[key] = tenant.call(
            "POST",
            "/contacts",
            json={"name": key, "email": email, "title": "采购经理"},
        )["id"]
    batch = [
        *actions("old@acme.cn", 365, "old"),
        *actions("new@acme.cn", 0.01, "new"),
        *actions("li@pku.edu.cn", 0.01, "student"),
    ]
    result = tenant.call("POST", "/events/batch", json={"events": batch})
    assert result["accepted"] == len(batch)

    old, new, stu = (scores(client, tenant, people[k]) for k in ("old", "new", "student"))
    # the same actions: 30 (capped) + 20 = 50 points; a year of 30-day half-lives leaves ~0
    assert (
        new["Engagement"]["engagement"] == 50.0 or abs(new["Engagement"]["engagement"] - 50) < 0.1
    )
    assert old["Engagement"]["engagement"] < 0.1
    assert new["Engagement"]["score"] > old["Engagement"]["score"] + 45
    # the student's email domain lowers the fit: 80 − 60
    assert (new["Fit"]["fit"], new["Fit"]["grade"]) == (80.0, "A")
    assert (stu["Fit"]["fit"], stu["Fit"]["grade"]) == (20.0, "D")
    # combined = 0.7 engagement + 0.3 fit
    expected = 0.7 * new["Engagement"]["score"] + 0.3 * new["Fit"]["score"]
    assert abs(new["Combined"]["score"] - expected) < 0.02
    assert stu["Combined"]["score"] < new["Combined"]["score"]

    # a negative rule takes points away
    tenant.call(
        "POST",
        "/events/batch",
        json={
            "events": [
                {
                    "type": "email_unsubscribed",
                    "identities": [{"kind": "email", "value": "new@acme.cn"}],
                    "idempotency_key": "unsub",
                }
            ]
        },
    )
    after = scores(client, tenant, people["new"])
    assert abs(after["Engagement"]["engagement"] - (new["Engagement"]["engagement"] - 15)) < 0.1

    # the ledger explains the score; the changes are on the timeline
    ledger = tenant.call("GET", f"/contacts/{people['new']}/scores/{engagement['id']}/points")
    assert sorted(p["points"] for p in ledger["items"]) == [-15, 10, 10, 10, 20]
    timeline = tenant.call("GET", f"/contacts/{people['new']}/timeline?limit=100")
    changes = [e for e in timeline["items"] if e["type"] == "score_changed"]
    assert {e["properties"]["model"] for e in changes} == {
        engagement["id"],
        fit["id"],
        combined["id"],
    }

    # a rule change re-scores everyone (the job): pricing views now earn 5, uncapped
    rule_id = next(r["id"] for r in tenant.call("GET", rules) if r["name"] == "Pricing page")
    tenant.call(
        "PUT",
        f"/scoring/rules/{rule_id}",
        json={**pricing, "points": 5, "cap": None, "cap_days": None},
    )
    while run_one(app.state.sessionmaker, app.state.settings.data_dir):
        pass
    rescored = scores(client, tenant, people["new"])
    assert abs(rescored["Engagement"]["engagement"] - (5 * 5 + 20 - 15)) < 0.1
    model = tenant.call("GET", f"/scoring/models/{engagement['id']}")
    assert model["scored_version"] == model["version"]
