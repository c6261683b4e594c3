"""Accounts: matching names, buying-committee roles, the org chart and its rules."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.account.service import match
from tests.factories import make_tenant


def test_accounts_contacts_and_org_chart(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    account = client.post(
        "/api/v1/accounts",
        json={
            "name": "上海华科科技有限公司",
            "domain": "https://www.huake.com.cn",
            "tier": "KA",
            "industry": "SaaS",
        },
        headers=h,
    ).json()
    assert account["domain"] == "huake.com.cn"
    ceo, cto, eng, buyer = (
        client.post("/api/v1/contacts", json={"name": n}, headers=h).json()["id"]
        for n in ("CEO 王", "CTO 李", "Engineer 张", "Buyer 赵")
    )

    def put(c, body):
        return client.put(f"/api/v1/accounts/{account['id']}/contacts/{c}", json=body, headers=h)

    assert put(ceo, {"role": "decision_maker", "title": "CEO"}).status_code == 200
    assert put(cto, {"role": "influencer", "reports_to_id": ceo}).status_code == 200
    assert put(eng, {"role": "user", "reports_to_id": cto}).status_code == 200
    assert put(buyer, {"role": "procurement", "reports_to_id": ceo}).status_code == 200
    chart = client.get(f"/api/v1/accounts/{account['id']}/contacts", headers=h).json()
    assert [n["name"] for n in chart] == ["CEO 王"]
    top = chart[0]
    assert sorted(r["name"] for r in top["reports"]) == ["Buyer 赵", "CTO 李"]
    cto_node = next(r for r in top["reports"] if r["name"] == "CTO 李")
    assert [r["name"] for r in cto_node["reports"]] == ["Engineer 张"]
    # no loops, no managers from elsewhere, no self-management
    for boss in (eng, ceo):  # the engineer reports (through the CTO) to the CEO; nor to oneself
        r = put(ceo, {"reports_to_id": boss})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "reports_to_outside_account")
    outsider = client.post("/api/v1/contacts", json={"name": "Outsider"}, headers=h).json()["id"]
    assert put(eng, {"reports_to_id": outsider}).status_code == 400
    # removing the CTO moves the engineer up to the CEO
    assert (
        client.delete(f"/api/v1/accounts/{account['id']}/contacts/{cto}", headers=h).status_code
        == 204
    )
    chart = client.get(f"/api/v1/accounts/{account['id']}/contacts", headers=h).json()
    assert sorted(r["name"] for r in chart[0]["reports"]) == ["Buyer 赵", "Engineer 张"]
    # the contact's 360 lists the account and the role
    view = client.get(f"/api/v1/contacts/{buyer}", headers=h).json()
    assert [(a["account"]["name"], a["role"]) for a in view["accounts"]] == [
        ("上海华科科技有限公司", "procurement")
    ]
    assert [
        c["name"]
        for c in client.get(
            f"/api/v1/contacts?account_id={account['id']}&sort=name", headers=h
        ).json()["items"]
    ] == ["Buyer 赵", "CEO 王", "Engineer 张"]


def test_company_names_and_domains_match_one_account(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    account = client.post(
        "/api/v1/accounts", json={"name": "Acme Co., Ltd.", "domain": "acme.io"}, headers=h
    ).json()
    with tenant.session() as s:
        assert match(s, tenant.workspace_id, "ACME", None).id == int(account["id"])  # type: ignore[union-attr]
        assert match(s, tenant.workspace_id, None, "acme.io").id == int(account["id"])  # type: ignore[union-attr]
        assert match(s, tenant.workspace_id, "Other", None) is None
    assert [
        a["name"] for a in client.get("/api/v1/accounts?q=acme", headers=h).json()["items"]
    ] == ["Acme Co., Ltd."]
    r = client.patch(
        f"/api/v1/accounts/{account['id']}",
        json={"tier": "mid", "domain": "not a domain"},
        headers=h,
    )
    assert r.status_code == 422
    r = client.patch(
        f"/api/v1/accounts/{account['id']}", json={"tier": "mid", "revenue": 1200000.5}, headers=h
    )
    assert (r.json()["tier"], r.json()["revenue"]) == ("mid", 1200000.5)


def test_merging_a_manager_into_their_report_makes_no_loop(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    account = client.post("/api/v1/accounts", json={"name": "Loop Co"}, headers=h).json()
    boss = client.post("/api/v1/contacts", json={"name": "Boss"}, headers=h).json()
    report = client.post("/api/v1/contacts", json={"name": "Report"}, headers=h).json()
    client.put(f"/api/v1/accounts/{account['id']}/contacts/{boss['id']}", json={}, headers=h)
    client.put(
        f"/api/v1/accounts/{account['id']}/contacts/{report['id']}",
        json={"reports_to_id": boss["id"]},
        headers=h,
    )
    merge = client.post(
        f"/api/v1/contacts/{report['id']}/merge", json={"other_id": boss["id"]}, headers=h
    ).json()
    chart = client.get(f"/api/v1/accounts/{account['id']}/contacts", headers=h)
    assert chart.status_code == 200
    assert [(n["name"], n["reports_to_id"], n["reports"]) for n in chart.json()] == [
        ("Report", None, [])
    ]
    assert client.post(f"/api/v1/merges/{merge['id']}/undo", headers=h).status_code == 200
    chart = client.get(f"/api/v1/accounts/{account['id']}/contacts", headers=h).json()
    assert [(n["name"], [r["name"] for r in n["reports"]]) for n in chart] == [("Boss", ["Report"])]


def test_the_org_chart_keeps_invisible_people_unnamed(app: FastAPI) -> None:
    from guanxi.auth.permissions import Role

    tenant = make_tenant(app)
    rep_a, rep_b = tenant.add(Role.sales), tenant.add(Role.sales)
    client, h = TestClient(app), tenant.admin.auth
    account = client.post(
        "/api/v1/accounts", json={"name": "Shared Co", "owner_id": str(rep_a.user_id)}, headers=h
    ).json()
    mine = client.post(
        "/api/v1/contacts",
        json={"name": "Mine", "email": "mine@x.cn", "owner_id": str(rep_a.user_id)},
        headers=h,
    ).json()
    theirs = client.post(
        "/api/v1/contacts",
        json={"name": "Theirs", "email": "theirs@x.cn", "owner_id": str(rep_b.user_id)},
        headers=h,
    ).json()
    client.put(
        f"/api/v1/accounts/{account['id']}/contacts/{theirs['id']}",
        json={"role": "decision_maker"},
        headers=h,
    )
    client.put(
        f"/api/v1/accounts/{account['id']}/contacts/{mine['id']}",
        json={"reports_to_id": theirs["id"]},
        headers=h,
    )
    chart = client.get(f"/api/v1/accounts/{account['id']}/contacts", headers=rep_a.auth).json()
    assert [(n["name"], n["email"], n["role"]) for n in chart] == [(None, None, "decision_maker")]
    assert [r["name"] for r in chart[0]["reports"]] == ["Mine"]
    # and B's 360 does not show A's account
    assert (
        client.get(f"/api/v1/contacts/{theirs['id']}", headers=rep_b.auth).json()["accounts"] == []
    )
