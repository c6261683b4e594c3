"""The suppression and consent API: adding one or many, a CSV upload, search and pages, removal;
who may do what; other workspaces' ids answer 404 and change nothing."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.auth.permissions import Role
from tests.consent.helpers import require_opt_in
from tests.factories import login, make_tenant
from tests.tag.client import Api


def test_add_search_page_and_remove(app: FastAPI) -> None:
    api = Api(make_tenant(app))
    assert api.post("/suppressions", {"channel": "email", "address": "Zhao@Acme.cn"}) == {
        "added": 1,
        "existing": 0,
        "invalid": 0,
        "invalid_examples": [],
    }
    many = {
        "channel": "email",
        "addresses": ["zhao@acme.cn", "qian@acme.cn", "sun@acme.cn"],
        "reason": "unsubscribe",
        "note": "旧平台退订名单",
    }
    assert api.post("/suppressions", many)["added"] == 2
    assert api.post("/suppressions", {"channel": "sms", "address": "138 0013 8000"})["added"] == 1

    refused = api.post(
        "/suppressions", {"channel": "email", "addresses": ["ok@acme.cn", "bad"]}, 422
    )
    assert refused["error"]["code"] == "invalid_addresses"
    assert refused["error"]["details"] == {"invalid": ["bad"]}
    both = {"channel": "email", "address": "a@acme.cn", "addresses": ["b@acme.cn"]}
    api.post("/suppressions", both, 422)
    api.post("/suppressions", {"channel": "fax", "address": "1"}, 422)

    first = api.get("/suppressions?sort=address&limit=2")
    assert [s["address"] for s in first["items"]] == ["+8613800138000", "qian@acme.cn"]
    rest = api.get(f"/suppressions?sort=address&limit=2&cursor={first['next_cursor']}")
    assert [s["address"] for s in rest["items"]] == ["sun@acme.cn", "zhao@acme.cn"]
    [row] = api.get("/suppressions?channel=email&q=QIAN")["items"]
    assert (row["reason"], row["source"], row["note"]) == ("unsubscribe", "api", "旧平台退订名单")
    assert row["created_by"] == str(api.tenant.admin.user_id)
    assert len(api.get("/suppressions")["items"]) == 4  # the refused calls wrote nothing

    api.delete(f"/suppressions/{row['id']}")
    api.delete(f"/suppressions/{row['id']}", 404)
    assert [s["address"] for s in api.get("/suppressions?channel=email")["items"]] == [
        "sun@acme.cn",
        "zhao@acme.cn",
    ]


def test_a_csv_upload(app: FastAPI) -> None:
    api = Api(make_tenant(app))
    r = api.client.post(
        "/api/v1/suppressions/import",
        headers=api.headers,
        data={"channel": "email", "reason": "bounce"},
        files={
            "file": (
                "退信.csv",
                b"email,name\nA@acme.cn,a\noops,b\nb@acme.cn,c\n",
                "text/csv",
            )
        },
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"added": 2, "existing": 0, "invalid": 1, "invalid_examples": ["oops"]}
    items = api.get("/suppressions?sort=address")["items"]
    assert [(s["address"], s["reason"], s["source"]) for s in items] == [
        ("a@acme.cn", "bounce", "import:退信.csv"),
        ("b@acme.cn", "bounce", "import:退信.csv"),
    ]
    bad = api.client.post(
        "/api/v1/suppressions/import",
        headers=api.headers,
        data={"channel": "email"},
        files={"file": ("x.csv", b"\xff\xfe\x00\x00", "text/csv")},
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "unreadable_file")


def test_a_contacts_consent_on_every_channel(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    require_opt_in(tenant, "sms")
    c = api.contact("甲")
    api.put(f"/contacts/{c}/consent/email", {"status": "opt_out", "source": "unsubscribe link"})
    items = {i["channel"]: i for i in api.get(f"/contacts/{c}/consent")["items"]}
    assert list(items) == ["email", "sms", "wecom", "wechat", "whatsapp", "phone"]
    email = items["email"]
    assert (email["status"], email["source"], email["marketing"], email["blocked_by"]) == (
        "opt_out",
        "unsubscribe link",
        False,
        "opted_out",
    )
    assert email["updated_at"] is not None
    assert (items["sms"]["status"], items["sms"]["marketing"], items["sms"]["blocked_by"]) == (
        None,
        False,
        "no_opt_in",
    )
    assert (items["wecom"]["marketing"], items["wecom"]["blocked_by"]) == (True, None)


def test_who_may_read_and_write(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    api.post("/suppressions", {"channel": "email", "address": "kept@acme.cn"})
    [row] = api.get("/suppressions")["items"]
    marketer = Api(tenant, tenant.add(Role.marketer).auth)
    marketer.post("/suppressions", {"channel": "email", "address": "m@acme.cn"})
    sales = Api(tenant, tenant.add(Role.sales).auth)
    assert len(sales.get("/suppressions")["items"]) == 2
    sales.post("/suppressions", {"channel": "email", "address": "s@acme.cn"}, 403)
    sales.delete(f"/suppressions/{row['id']}", 403)
    viewer = tenant.add(Role.viewer)
    client = TestClient(app)
    csrf = login(client, viewer.email)
    assert client.get("/api/v1/suppressions").status_code == 200
    r = client.post(
        "/api/v1/suppressions",
        json={"channel": "email", "address": "v@acme.cn"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 403
    r = client.post(
        "/api/v1/suppressions/import",
        data={"channel": "email"},
        files={"file": ("x.csv", b"v@acme.cn\n", "text/csv")},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 403
    assert sorted(s["address"] for s in api.get("/suppressions")["items"]) == [
        "kept@acme.cn",
        "m@acme.cn",
    ]


def test_other_workspaces_ids_answer_404_and_change_nothing(app: FastAPI) -> None:
    victim, attacker = Api(make_tenant(app, "Victim")), Api(make_tenant(app, "Attacker"))
    victim.post("/suppressions", {"channel": "email", "address": "victim@acme.cn"})
    [row] = victim.get("/suppressions")["items"]
    contact = victim.contact("Victim", email="victim@acme.cn")
    before = (victim.get("/suppressions"), victim.get(f"/contacts/{contact}/consent"))

    attacker.delete(f"/suppressions/{row['id']}", 404)
    attacker.get(f"/contacts/{contact}/consent", 404)
    assert attacker.get("/suppressions")["items"] == []
    assert attacker.get("/suppressions?q=victim")["items"] == []
    # the same address on the attacker's own list is the attacker's row
    attacker.post("/suppressions", {"channel": "email", "address": "victim@acme.cn"})
    assert (victim.get("/suppressions"), victim.get(f"/contacts/{contact}/consent")) == before
