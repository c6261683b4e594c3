"""Entry rules react to event batches: a contact that now matches a stage's rule moves forward
(to the furthest such stage), with cause ``rule`` and a ``stage_changed`` event on its
timeline; never backward; exit rules take funnel contacts out."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import Tenant, make_tenant


def set_rule(client: TestClient, tenant: Tenant, key: str, rule: dict[str, Any] | None) -> None:
    h = tenant.admin.auth
    stages = client.get("/api/v1/lifecycle/stages", headers=h).json()["items"]
    stage = next(s for s in stages if s["key"] == key)
    r = client.patch(
        f"/api/v1/lifecycle/stages/{stage['id']}", json={"entry_rule": rule}, headers=h
    )
    assert r.status_code == 200, r.text


def views(client: TestClient, tenant: Tenant, email: str, n: int, url: str = "/pricing") -> None:
    events = [
        {
            "type": "page_view",
            "properties": {"url": f"https://acme.example.cn{url}"},
            "identities": [{"kind": "email", "value": email}],
        }
        for _ in range(n)
    ]
    r = client.post("/api/v1/events/batch", json={"events": events}, headers=tenant.admin.auth)
    assert r.status_code == 200, r.text
    assert r.json()["rejected"] == 0


def person(client: TestClient, tenant: Tenant, email: str, **fields: Any) -> str:
    r = client.post(
        "/api/v1/contacts",
        json={"name": "张伟", "email": email, **fields},
        headers=tenant.admin.auth,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def history(client: TestClient, tenant: Tenant, cid: str) -> list[tuple[Any, ...]]:
    items = client.get(f"/api/v1/contacts/{cid}/stages", headers=tenant.admin.auth).json()["items"]
    return [(c["from_stage"], c["to_stage"], c["cause"], c["backward"]) for c in items]


PRICING_3 = {
    "kind": "event",
    "type": "page_view",
    "where": [{"property": "url", "op": "contains", "value": "/pricing"}],
    "window": {"days": 30},
    "op": "gte",
    "value": 3,
}
HAS_TITLE = {"kind": "field", "field": "title", "op": "is_set"}


def test_an_event_batch_moves_a_contact_forward_by_rule(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    set_rule(client, tenant, "mql", PRICING_3)
    cid = person(client, tenant, "zw@example.test", stage="lead")
    views(client, tenant, "zw@example.test", 2)
    assert history(client, tenant, cid) == [(None, "lead", "api", False)]
    views(client, tenant, "zw@example.test", 1)
    assert history(client, tenant, cid)[0] == ("lead", "mql", "rule", False)
    timeline = client.get(
        f"/api/v1/contacts/{cid}/timeline?type=stage_changed", headers=tenant.admin.auth
    ).json()["items"]
    assert timeline[0]["properties"] == {
        "from": "lead",
        "to": "mql",
        "cause": "rule",
        "backward": False,
    }
    assert timeline[0]["source"] == "lifecycle"
    contact = client.get(f"/api/v1/contacts/{cid}", headers=tenant.admin.auth).json()
    assert contact["contact"]["stage"] == "mql"


def test_the_furthest_matching_stage_wins_and_rules_never_go_back(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    set_rule(client, tenant, "lead", HAS_TITLE)
    set_rule(client, tenant, "mql", PRICING_3)
    fresh = person(client, tenant, "a@example.test", title="CTO")  # a title: a lead at once
    assert history(client, tenant, fresh) == [(None, "lead", "rule", False)]
    views(client, tenant, "a@example.test", 3)
    assert history(client, tenant, fresh)[0] == ("lead", "mql", "rule", False)
    skipper = person(client, tenant, "c@example.test")  # no title: not a lead
    views(client, tenant, "c@example.test", 3)
    assert history(client, tenant, skipper) == [(None, "mql", "rule", False)]  # skips lead

    ahead = person(client, tenant, "b@example.test", title="CIO", stage="sql")
    views(client, tenant, "b@example.test", 3)
    assert history(client, tenant, ahead)[0] == ("lead", "sql", "api", False)  # never back


def test_rules_chain_through_the_stage_they_set(app: FastAPI) -> None:
    """A rule may name the stage: a derived stage_changed event is checked again."""
    tenant, client = make_tenant(app), TestClient(app)
    set_rule(client, tenant, "mql", PRICING_3)
    set_rule(
        client,
        tenant,
        "sal",
        {"kind": "and", "all": [{"kind": "field", "field": "stage", "op": "eq", "value": "mql"},
                                HAS_TITLE]},
    )  # fmt: skip
    cid = person(client, tenant, "c@example.test", title="VP", stage="lead")
    views(client, tenant, "c@example.test", 3)
    assert [h[:3] for h in history(client, tenant, cid)] == [
        ("mql", "sal", "rule"),
        ("lead", "mql", "rule"),
        (None, "lead", "api"),
    ]


def test_exit_rules_churn_funnel_contacts_and_win_back_is_by_hand(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    unsubscribed = {"kind": "event", "type": "page_view", "where": [
        {"property": "url", "op": "contains", "value": "/goodbye"}]}  # fmt: skip
    set_rule(client, tenant, "churned", unsubscribed)
    set_rule(client, tenant, "lead", HAS_TITLE)
    customer = person(client, tenant, "d@example.test", title="CFO", stage="customer")
    outsider = person(client, tenant, "e@example.test")
    views(client, tenant, "d@example.test", 1, "/goodbye")
    views(client, tenant, "e@example.test", 1, "/goodbye")
    assert history(client, tenant, customer)[0] == ("customer", "churned", "rule", False)
    assert history(client, tenant, outsider) == []  # never in the funnel: not churned

    views(client, tenant, "d@example.test", 1)  # matches the lead rule: stays churned
    assert history(client, tenant, customer)[0][1] == "churned"
    r = client.post(
        f"/api/v1/contacts/{customer}/stage",
        json={"stage": "customer", "note": "续约成功"},
        headers=tenant.admin.auth,
    )
    assert r.json()["change"]["backward"] is True


def test_a_custom_field_rule_applies_when_the_contact_next_acts(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    h = tenant.admin.auth
    r = client.post(
        "/api/v1/custom-fields",
        json={"object": "contact", "key": "budget", "label": "预算", "type": "number"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    set_rule(client, tenant, "sql", {"kind": "field", "field": "custom.budget", "op": "gte",
                                     "value": 100000})  # fmt: skip
    big = person(client, tenant, "f@example.test", custom={"budget": 500000})
    small = person(client, tenant, "g@example.test", custom={"budget": 5000})
    views(client, tenant, "f@example.test", 1)
    views(client, tenant, "g@example.test", 1)
    assert history(client, tenant, big) == [(None, "sql", "rule", False)]
    assert history(client, tenant, small) == []


def test_rules_on_a_moving_window_are_re_applied_daily(app: FastAPI) -> None:
    from sqlalchemy import select

    from guanxi.db import transaction
    from guanxi.kit.clock import utcnow
    from guanxi.lifecycle import tasks
    from guanxi.lifecycle.service import REAPPLY
    from guanxi.models import Job

    moving, fixed = make_tenant(app), make_tenant(app)
    quiet = {"kind": "event", "type": "order", "window": {"days": 365}, "op": "eq", "value": 0}
    set_rule(TestClient(app), moving, "churned", quiet)
    set_rule(TestClient(app), fixed, "lead", HAS_TITLE)

    def waiting(tenant: Tenant) -> int:
        with tenant.session() as s:
            return len(
                s.scalars(
                    select(Job).where(
                        Job.workspace_id == tenant.workspace_id,
                        Job.kind == REAPPLY,
                        Job.status == "pending",
                    )
                ).all()
            )

    before = (waiting(moving), waiting(fixed))
    with transaction(app.state.sessionmaker) as s:
        tasks.daily(s, utcnow())
    assert (waiting(moving), waiting(fixed)) == (before[0] + 1, before[1])
