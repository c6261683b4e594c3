"""The scoring API on both databases: models and rules, refusals with their codes (and nothing
written), linear decay, caps through event batches, account roll-ups and account fit, the
points ledger, the editor's preview, tenancy and roles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from guanxi.auth.permissions import Role
from guanxi.kit.clock import utcnow
from guanxi.models import Job, ScorePoint
from tests.factories import Tenant, login, make_tenant

FORM = {"kind": "engagement", "name": "Form", "event_type": "form_submit", "points": 20}
PRICING = {
    "kind": "engagement",
    "name": "Pricing page",
    "event_type": "page_view",
    "where": [{"property": "url", "op": "contains", "value": "/pricing"}],
    "points": 10,
    "cap": 25,
    "cap_days": 7,
}
MANAGER = {
    "kind": "fit",
    "name": "Manager",
    "condition": {"kind": "field", "field": "title", "op": "contains", "value": "经理"},
    "points": 80,
}


class Api:
    def __init__(self, app: FastAPI, tenant: Tenant, headers: dict[str, str] | None = None):
        self.client, self.tenant = TestClient(app), tenant
        self.headers = headers if headers is not None else tenant.admin.auth

    def call(self, method: str, url: str, expect: int = 200, **kw: Any) -> Any:
        r = self.client.request(method, f"/api/v1{url}", headers=self.headers, **kw)
        assert r.status_code == expect, r.text
        return r.json() if r.content else None

    def refused(self, method: str, url: str, status: int, code: str, **kw: Any) -> Any:
        body = self.call(method, url, status, **kw)
        assert body["error"]["code"] == code, body
        return body

    def model(self, **fields: Any) -> dict[str, Any]:
        return self.call("POST", "/scoring/models", 201, json={"name": "M", **fields})  # type: ignore[no-any-return]

    def rule(self, model: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", f"/scoring/models/{model['id']}/rules", 201, json=body)  # type: ignore[no-any-return]

    def contact(self, email: str, **fields: Any) -> str:
        return str(self.call("POST", "/contacts", 201, json={"email": email, **fields})["id"])

    def events(self, *events: dict[str, Any]) -> dict[str, Any]:
        result = self.call("POST", "/events/batch", json={"events": list(events)})
        assert result["accepted"] == len(events), result
        return result  # type: ignore[no-any-return]

    def scores(self, contact_id: str) -> dict[str, dict[str, Any]]:
        return {s["name"]: s for s in self.call("GET", f"/contacts/{contact_id}/scores")}


_keys = iter(range(1_000_000))


def event(type_: str, email: str, days_ago: float = 0, **props: Any) -> dict[str, Any]:
    return {
        "type": type_,
        "occurred_at": (utcnow() - timedelta(days=days_ago)).isoformat(),
        "properties": props,
        "identities": [{"kind": "email", "value": email}],
        "idempotency_key": f"k{next(_keys)}",
    }


def form(email: str, days_ago: float = 0) -> dict[str, Any]:
    return event("form_submit", email, days_ago, form_id="1")


def view(email: str, days_ago: float = 0, url: str = "https://x.cn/pricing") -> dict[str, Any]:
    return event("page_view", email, days_ago, url=url)


def jobs_of(tenant: Tenant) -> int:
    with tenant.session() as s:
        return int(
            s.scalar(
                select(func.count()).select_from(Job).where(Job.workspace_id == tenant.workspace_id)
            )
            or 0
        )


def points_of(tenant: Tenant) -> int:
    with tenant.session() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(ScorePoint)
                .where(ScorePoint.workspace_id == tenant.workspace_id)
            )
            or 0
        )


@pytest.fixture
def api(app: FastAPI) -> Api:
    return Api(app, make_tenant(app))


def test_models_and_rules_crud(api: Api) -> None:
    made = api.model(name="Engagement", decay="half_life", decay_days=30)
    assert {k: v for k, v in made.items() if k not in ("id", "created_at")} == {
        "name": "Engagement",
        "kind": "points",
        "decay": "half_life",
        "decay_days": 30,
        "weights": {},
        "grades": {"A": 75.0, "B": 50.0, "C": 25.0},
        "rollup": "sum",
        "rollup_n": 3,
        "enabled": True,
        "version": 1,
        "scored_version": 1,
    }
    url = f"/scoring/models/{made['id']}"
    assert api.call("GET", url) == made
    assert api.call("GET", "/scoring/models") == [made]
    # renaming, grades and roll-up change no score: no re-score
    renamed = api.call(
        "PUT",
        url,
        json={
            "name": "Engagement 2",
            "decay": "half_life",
            "decay_days": 30,
            "grades": {"A": 90, "B": 60, "C": 30},
            "rollup": "top_n",
            "rollup_n": 2,
        },
    )
    assert (renamed["name"], renamed["grades"], renamed["rollup"], renamed["rollup_n"]) == (
        "Engagement 2",
        {"A": 90.0, "B": 60.0, "C": 30.0},
        "top_n",
        2,
    )
    assert (renamed["version"], jobs_of(api.tenant)) == (1, 0)

    rule = api.rule(made, PRICING)
    assert {k: v for k, v in rule.items() if k not in ("id", "created_at")} == {
        **PRICING,
        "model_id": made["id"],
        "condition": None,
    }
    assert api.call("GET", f"{url}/rules") == [rule]
    assert (api.call("GET", url)["version"], jobs_of(api.tenant)) == (2, 1)
    changed = api.call(
        "PUT", f"/scoring/rules/{rule['id']}", json={**PRICING, "name": "Pricing", "points": 5}
    )
    assert (changed["id"], changed["name"], changed["points"]) == (rule["id"], "Pricing", 5.0)
    # one waiting re-score job per model is enough
    assert (api.call("GET", url)["version"], jobs_of(api.tenant)) == (3, 1)
    fit = api.rule(made, MANAGER)
    assert fit["condition"] == MANAGER["condition"]
    api.call("DELETE", f"/scoring/rules/{rule['id']}", 204)
    assert [r["id"] for r in api.call("GET", f"{url}/rules")] == [fit["id"]]
    api.refused("DELETE", f"/scoring/rules/{rule['id']}", 404, "not_found")

    # a decay change re-scores everyone
    assert api.call("PUT", url, json={"name": "E", "decay": "none"})["version"] == 6
    api.call("DELETE", url, 204)
    api.refused("GET", url, 404, "not_found")
    assert api.call("GET", "/scoring/models") == []


MODEL_REFUSALS = [
    ({"decay_days": 30}, "validation_error"),
    ({"decay": "half_life"}, "validation_error"),
    ({"decay": "linear", "decay_days": 0}, "validation_error"),
    ({"kind": "combined"}, "validation_error"),
    ({"kind": "combined", "weights": {"1": 1}, "decay": "linear", "decay_days": 3}, "validation_error"),
    ({"weights": {"1": 1}}, "validation_error"),
    ({"grades": {"A": 10, "B": 20, "C": 5}}, "validation_error"),
    ({"rollup": "avg"}, "validation_error"),
    ({"name": ""}, "validation_error"),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "code"), MODEL_REFUSALS)
def test_invalid_models_are_refused(api: Api, fields: dict[str, Any], code: str) -> None:
    api.refused("POST", "/scoring/models", 422, code, json={"name": "M", **fields})
    assert api.call("GET", "/scoring/models") == []


def test_weights_name_points_models_of_the_workspace(api: Api) -> None:
    a, b = api.model(name="A"), api.model(name="B")
    combined = api.model(name="C", kind="combined", weights={a["id"]: 0.5, b["id"]: 0.5})
    assert combined["weights"] == {a["id"]: 0.5, b["id"]: 0.5}
    api.refused(
        "POST",
        "/scoring/models",
        422,
        "invalid_scoring_rule",
        json={"name": "CC", "kind": "combined", "weights": {combined["id"]: 1}},
    )
    api.refused(
        "POST",
        "/scoring/models",
        404,
        "not_found",
        json={"name": "CX", "kind": "combined", "weights": {"123456789": 1}},
    )
    url = f"/scoring/models/{combined['id']}"
    api.refused(  # a combined model cannot weigh itself
        "PUT",
        url,
        404,
        "not_found",
        json={"name": "C", "kind": "combined", "weights": {combined["id"]: 1}},
    )
    api.refused(  # nor turn into a points model
        "PUT", url, 422, "invalid_scoring_rule", json={"name": "C"}
    )
    # a combined model has no rules of its own
    api.refused("POST", f"{url}/rules", 422, "invalid_scoring_rule", json=FORM)
    assert [m["name"] for m in api.call("GET", "/scoring/models")] == ["A", "B", "C"]
    assert api.call("GET", url) == combined
    assert api.call("GET", f"{url}/rules") == []


RULE_REFUSALS = [
    ({**FORM, "event_type": "no_such_type"}, "invalid_scoring_rule"),
    ({**FORM, "event_type": "score_changed"}, "invalid_scoring_rule"),
    ({**MANAGER, "condition": {"kind": "field", "field": "shoe_size", "op": "eq", "value": "1"}}, "invalid_condition"),
    ({**MANAGER, "condition": {"kind": "field", "field": "title", "op": "gt", "value": 3}}, "invalid_condition"),
    ({**MANAGER, "condition": {"kind": "tag", "tags": ["123"]}}, "invalid_condition"),
    ({**MANAGER, "kind": "account_fit"}, "invalid_condition"),  # title is no account field
    ({**MANAGER, "condition": {"kind": "event", "type": "order", "window": {"days": 30}}}, "invalid_scoring_rule"),  # fit on a clock
    ({**FORM, "points": 0}, "validation_error"),
    ({**FORM, "cap": 10}, "validation_error"),
    ({**FORM, "cap_days": 10}, "validation_error"),
    ({**FORM, "event_type": None}, "validation_error"),
    ({**FORM, "condition": MANAGER["condition"]}, "validation_error"),
    ({**MANAGER, "event_type": "form_submit"}, "validation_error"),
    ({**MANAGER, "condition": None}, "validation_error"),
    ({**FORM, "where": [{"property": "a b", "op": "eq", "value": "x"}]}, "validation_error"),
    ({**FORM, "kind": "other"}, "validation_error"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "code"), RULE_REFUSALS)
def test_invalid_rules_are_refused(api: Api, body: dict[str, Any], code: str) -> None:
    model = api.model()
    api.refused("POST", f"/scoring/models/{model['id']}/rules", 422, code, json=body)
    rule = api.rule(model, FORM)
    api.refused("PUT", f"/scoring/rules/{rule['id']}", 422, code, json=body)
    assert api.call("GET", f"/scoring/models/{model['id']}/rules") == [rule]
    assert api.call("GET", f"/scoring/models/{model['id']}")["version"] == 2


def test_an_account_fit_rule_takes_account_fields(api: Api) -> None:
    model = api.model()
    saas = {"kind": "field", "field": "industry", "op": "eq", "value": "SaaS"}
    rule = api.rule(model, {"kind": "account_fit", "name": "ICP", "condition": saas, "points": 30})
    assert (rule["kind"], rule["condition"]) == ("account_fit", saas)


def test_a_model_weighed_by_a_combined_one_is_not_deleted(api: Api) -> None:
    a, b = api.model(name="A"), api.model(name="B")
    api.rule(a, FORM)
    who = api.contact("w@acme.cn")
    api.events(form("w@acme.cn"))
    combined = api.model(name="C", kind="combined", weights={a["id"]: 1, b["id"]: 1})
    body = api.refused("DELETE", f"/scoring/models/{a['id']}", 409, "scoring_model_in_use")
    assert "C" in body["error"]["message"]
    assert [m["name"] for m in api.call("GET", "/scoring/models")] == ["A", "B", "C"]
    assert len(api.call("GET", f"/scoring/models/{a['id']}/rules")) == 1
    assert api.scores(who)["A"]["score"] == 20.0
    assert points_of(api.tenant) == 1
    api.call("DELETE", f"/scoring/models/{combined['id']}", 204)
    api.call("DELETE", f"/scoring/models/{a['id']}", 204)
    assert list(api.scores(who)) == ["B"]
    assert points_of(api.tenant) == 0


def test_a_model_named_by_a_fit_rule_is_not_deleted(api: Api) -> None:
    a, b = api.model(name="A"), api.model(name="B")
    engaged = {"kind": "score", "model": a["id"], "op": "gte", "value": 10}
    rule = api.rule(b, {"kind": "fit", "name": "Engaged", "condition": engaged, "points": 5})
    api.refused("DELETE", f"/scoring/models/{a['id']}", 409, "scoring_model_in_use")
    api.call("DELETE", f"/scoring/rules/{rule['id']}", 204)
    api.call("DELETE", f"/scoring/models/{a['id']}", 204)
    assert [m["name"] for m in api.call("GET", "/scoring/models")] == ["B"]


def test_a_linear_model_fades_points_over_its_window(api: Api) -> None:
    model = api.model(name="Recent", decay="linear", decay_days=10)
    api.rule(model, FORM)
    who = api.contact("lin@acme.cn")
    api.events(form("lin@acme.cn", 5), form("lin@acme.cn", 2.5), form("lin@acme.cn", 15))
    score = api.scores(who)["Recent"]
    # 20 · ½ + 20 · ¾ + nothing from the one outside the window
    assert score["engagement"] == pytest.approx(25.0, abs=0.05)
    assert score["score"] == score["engagement"]
    ledger = api.call("GET", f"/contacts/{who}/scores/{model['id']}/points")["items"]
    assert [p["points"] for p in ledger] == [20.0, 20.0, 20.0]
    assert [p["worth_now"] for p in ledger] == pytest.approx([15.0, 10.0, 0.0], abs=0.05)


def test_caps_hold_across_batches(api: Api) -> None:
    model = api.model(name="Caps")
    api.rule(model, PRICING)
    who = api.contact("cap@acme.cn")
    email = "cap@acme.cn"
    api.events(*(view(email, 20) for _ in range(3)), view(email, 20, url="https://x.cn/about"))
    assert api.scores(who)["Caps"]["score"] == 25.0  # 10 + 10 + 5, the about page earns nothing
    api.events(view(email, 19.5))
    assert api.scores(who)["Caps"]["score"] == 25.0  # the cap is taken for 7 days
    api.events(view(email, 10), view(email, 10))
    assert api.scores(who)["Caps"]["score"] == 45.0  # a new period: 10 + 10 of 25
    ledger = api.call("GET", f"/contacts/{who}/scores/{model['id']}/points")["items"]
    assert sorted(p["points"] for p in ledger) == [5.0, 10.0, 10.0, 10.0, 10.0]
    assert {p["rule"] for p in ledger} == {"Pricing page"}


def link(api: Api, account: str, contact: str) -> None:
    api.call("PUT", f"/accounts/{account}/contacts/{contact}", json={"role": "user"})


def test_account_roll_up_and_account_fit(api: Api) -> None:
    model = api.model(name="Eng")
    api.rule(model, FORM)
    saas = {"kind": "field", "field": "industry", "op": "eq", "value": "SaaS"}
    big = {"kind": "field", "field": "revenue", "op": "gte", "value": 1_000_000}
    api.rule(model, {"kind": "account_fit", "name": "ICP", "condition": saas, "points": 30})
    api.rule(model, {"kind": "account_fit", "name": "Big", "condition": big, "points": 50})
    acme = api.call("POST", "/accounts", 201, json={"name": "Acme", "industry": "SaaS"})["id"]
    other = api.call("POST", "/accounts", 201, json={"name": "Other", "industry": "Retail"})["id"]
    people = []
    for i, forms in enumerate((1, 2, 4)):
        email = f"p{i}@acme.cn"
        people.append(api.contact(email))
        api.events(*(form(email, 0.01 * n) for n in range(forms)))
        link(api, acme, people[-1])
    link(api, other, people[0])

    def account(account_id: str) -> dict[str, Any]:
        (score,) = api.call("GET", f"/accounts/{account_id}/scores")
        return score  # type: ignore[no-any-return]

    assert account(acme) == {
        "model_id": model["id"],
        "name": "Eng",
        "score": 170.0,
        "contacts": 140.0,
        "fit": 30.0,
        "grade": "C",
    }
    assert (account(other)["score"], account(other)["fit"], account(other)["grade"]) == (
        20.0,
        0.0,
        "D",
    )
    url = f"/scoring/models/{model['id']}"
    api.call("PUT", url, json={"name": "Eng", "rollup": "max"})
    assert (account(acme)["contacts"], account(acme)["score"]) == (80.0, 110.0)
    api.call("PUT", url, json={"name": "Eng", "rollup": "top_n", "rollup_n": 2})
    assert (account(acme)["contacts"], account(acme)["score"]) == (120.0, 150.0)
    api.call("PATCH", f"/accounts/{acme}", json={"revenue": 5_000_000})
    assert (account(acme)["fit"], account(acme)["grade"]) == (80.0, "A")
    empty = api.call("POST", "/accounts", 201, json={"name": "Empty"})["id"]
    assert account(empty)["score"] == 0.0


def test_the_ledger_pages_newest_first_with_the_worth_now(api: Api) -> None:
    model = api.model(name="Half", decay="half_life", decay_days=30)
    api.rule(model, FORM)
    api.rule(model, {**FORM, "name": "Unsub", "event_type": "email_unsubscribed", "points": -8})
    who = api.contact("led@acme.cn")
    api.events(
        form("led@acme.cn", 60),
        form("led@acme.cn", 30),
        event("email_unsubscribed", "led@acme.cn", 0.0001),
    )
    url = f"/contacts/{who}/scores/{model['id']}/points"
    first = api.call("GET", f"{url}?limit=2")
    assert [(p["rule"], p["points"]) for p in first["items"]] == [("Unsub", -8.0), ("Form", 20.0)]
    assert [p["worth_now"] for p in first["items"]] == pytest.approx([-8.0, 10.0], abs=0.01)
    assert first["next_cursor"]
    second = api.call("GET", f"{url}?limit=2&cursor={first['next_cursor']}")
    assert [(p["points"], p["worth_now"]) for p in second["items"]] == [(20.0, 5.0)]
    assert second["next_cursor"] is None
    assert all(p["event_id"] for p in first["items"] + second["items"])
    assert api.scores(who)["Half"]["engagement"] == pytest.approx(7.0, abs=0.01)
    api.refused("GET", f"{url}?cursor=nonsense", 400, "invalid_cursor")


def test_a_preview_with_draft_rules_writes_nothing(api: Api) -> None:
    model = api.model(name="Eng", grades={"A": 80, "B": 50, "C": 10})
    api.rule(model, FORM)
    who = api.contact("pre@acme.cn", title="采购经理")
    api.events(form("pre@acme.cn", 1), view("pre@acme.cn", 2), view("pre@acme.cn", 1))
    before = (
        api.scores(who),
        api.call("GET", f"/contacts/{who}/scores/{model['id']}/points"),
        api.call("GET", f"/scoring/models/{model['id']}"),
        jobs_of(api.tenant),
        points_of(api.tenant),
    )
    url = f"/scoring/models/{model['id']}/preview"
    saved = api.call("POST", url, json={"contact_id": who})
    assert {k: saved[k] for k in ("score", "engagement", "fit", "grade")} == {
        "score": 20.0,
        "engagement": 20.0,
        "fit": 0.0,
        "grade": "D",
    }
    drafts = [{**PRICING, "cap": 15}, MANAGER]
    draft = api.call("POST", url, json={"contact_id": who, "rules": drafts})
    assert {k: draft[k] for k in ("score", "engagement", "fit", "grade")} == {
        "score": 95.0,
        "engagement": 15.0,
        "fit": 80.0,
        "grade": "A",
    }
    assert [(p["rule"], p["points"], p["worth_now"]) for p in draft["points"]] == [
        ("Pricing page", 5.0, 5.0),
        ("Pricing page", 10.0, 10.0),
    ]
    api.refused(
        "POST",
        url,
        422,
        "invalid_scoring_rule",
        json={"contact_id": who, "rules": [{**FORM, "event_type": "nope"}]},
    )
    api.refused("POST", url, 404, "not_found", json={"contact_id": "123456789"})
    after = (
        api.scores(who),
        api.call("GET", f"/contacts/{who}/scores/{model['id']}/points"),
        api.call("GET", f"/scoring/models/{model['id']}"),
        jobs_of(api.tenant),
        points_of(api.tenant),
    )
    assert after == before
    combined = api.model(name="C", kind="combined", weights={model["id"]: 1})
    api.refused(
        "POST",
        f"/scoring/models/{combined['id']}/preview",
        422,
        "invalid_scoring_rule",
        json={"contact_id": who},
    )


def test_another_workspaces_ids_are_not_found(app: FastAPI, api: Api) -> None:
    model = api.model(name="Theirs")
    rule = api.rule(model, FORM)
    who = api.contact("victim@acme.cn")
    api.events(form("victim@acme.cn"))
    account = api.call("POST", "/accounts", 201, json={"name": "Victim"})["id"]
    other = Api(app, make_tenant(app, "Attacker"))
    mine = other.model(name="Mine")
    mine_contact = other.contact("me@attacker.cn")
    m, r = f"/scoring/models/{model['id']}", f"/scoring/rules/{rule['id']}"
    for method, url, body in (
        ("GET", m, None),
        ("PUT", m, {"name": "x"}),
        ("DELETE", m, None),
        ("GET", f"{m}/rules", None),
        ("POST", f"{m}/rules", FORM),
        ("PUT", r, FORM),
        ("DELETE", r, None),
        ("POST", f"{m}/preview", {"contact_id": mine_contact}),
        ("POST", f"/scoring/models/{mine['id']}/preview", {"contact_id": who}),
        ("GET", f"/contacts/{who}/scores", None),
        ("GET", f"/contacts/{who}/scores/{mine['id']}/points", None),
        ("GET", f"/contacts/{mine_contact}/scores/{model['id']}/points", None),
        ("GET", f"/accounts/{account}/scores", None),
        ("POST", "/scoring/models", {"name": "c", "kind": "combined", "weights": {model["id"]: 1}}),
    ):
        other.refused(method, url, 404, "not_found", json=body)
    assert api.call("GET", m) == {**model, "version": 2}
    assert api.call("GET", f"{m}/rules") == [rule]
    assert api.scores(who)["Theirs"]["score"] == 20.0
    assert [x["name"] for x in other.call("GET", "/scoring/models")] == ["Mine"]


@pytest.mark.parametrize("role", [Role.viewer, Role.sales])
def test_only_admins_and_marketers_shape_models(app: FastAPI, role: Role) -> None:
    tenant = make_tenant(app)
    admin = Api(app, tenant)
    model = admin.model(name="Eng")
    rule = admin.rule(model, FORM)
    member = tenant.add(role)
    who = admin.contact("role@acme.cn", owner_id=str(member.user_id))
    if member.key:
        them = Api(app, tenant, member.auth)
    else:  # a viewer holds no key: a session
        them = Api(app, tenant, {})
        them.headers = {"X-CSRF-Token": login(them.client, member.email)}
    m = f"/scoring/models/{model['id']}"
    for method, url, body in (
        ("POST", "/scoring/models", {"name": "x"}),
        ("PUT", m, {"name": "x"}),
        ("DELETE", m, None),
        ("POST", f"{m}/rules", FORM),
        ("PUT", f"/scoring/rules/{rule['id']}", {**FORM, "points": 1}),
        ("DELETE", f"/scoring/rules/{rule['id']}", None),
    ):
        them.refused(method, url, 403, "forbidden", json=body)
    assert them.call("GET", "/scoring/models") == admin.call("GET", "/scoring/models")
    assert them.call("GET", f"{m}/rules") == [rule]
    assert them.call("POST", f"{m}/preview", json={"contact_id": who})["score"] == 0.0
    assert admin.call("GET", m) == {**model, "version": 2}
    marketer = Api(app, tenant, tenant.add(Role.marketer).auth)
    marketer.rule(model, MANAGER)
    marketer.call("PUT", m, json={"name": "Renamed"})
