"""Every endpoint, called with another workspace's ids, answers 404 and changes nothing.

The cases are generated from the OpenAPI document (the route table), so a new endpoint with an
id in its path is covered the day it is added; the test fails until its id kind and a sample
body are known below.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from guanxi.auth.permissions import Role
from tests.factories import PASSWORD, Tenant, login, make_tenant

# Which resource each path parameter names.
ID_KINDS = {
    "user_id": "member",
    "department_id": "department",
    "key_id": "api_key",
    "workspace_id": "workspace",
    "contact_id": "contact",
    "account_id": "account",
    "identity_id": "identity",
    "merge_id": "merge",
    "field_id": "field",
    "channel": "channel",
    "job_id": "job",
    "notification_id": "notification",
    "file_id": "file",
    "name": "event_type",
    "form_id": "form",
    "content_id": "content",
    "tag_group_id": "tag_group",
    "tag_id": "tag",
    "tag_rule_id": "tag_rule",
    "model_id": "scoring_model",
    "rule_id": "scoring_rule",
    "stage_id": "stage",
    "segment_id": "segment",
    "journey_id": "journey",
    "template_id": "template",
    "channel_account_id": "channel_account",
    "message_id": "message",
    "broadcast_id": "broadcast",
    "suppression_id": "suppression",
    "webhook_id": "webhook",
    "delivery_id": "webhook_delivery",
}
# A valid body for every operation with a path id and a request body.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("patch", "/api/v1/departments/{department_id}"): {"name": "renamed"},
    ("patch", "/api/v1/users/{user_id}"): {"role": "viewer"},
    ("patch", "/api/v1/contacts/{contact_id}"): {"title": "CTO"},
    ("post", "/api/v1/contacts/{contact_id}/identities"): {"kind": "email", "value": "z@z.io"},
    ("put", "/api/v1/contacts/{contact_id}/consent/{channel}"): {"status": "opt_out"},
    ("post", "/api/v1/contacts/{contact_id}/merge"): {"other_id": "1"},
    ("patch", "/api/v1/custom-fields/{field_id}"): {"label": "renamed"},
    ("patch", "/api/v1/accounts/{account_id}"): {"tier": "KA"},
    ("put", "/api/v1/accounts/{account_id}/contacts/{contact_id}"): {"role": "user"},
    ("put", "/api/v1/forms/{form_id}"): {"name": "f", "fields": [{"key": "email", "label": "e"}]},
    ("put", "/api/v1/content/{content_id}"): {"title": "t", "body": "b"},
    ("post", "/api/v1/content/{content_id}/links"): {},
    ("patch", "/api/v1/tag-groups/{tag_group_id}"): {"name": "renamed"},
    ("patch", "/api/v1/tags/{tag_id}"): {"name": "renamed"},
    ("post", "/api/v1/tags/{tag_id}/contacts"): {"contact_ids": ["1"]},
    ("post", "/api/v1/contacts/{contact_id}/tags"): {"tag_ids": ["1"]},
    ("patch", "/api/v1/tag-rules/{tag_rule_id}"): {"enabled": False},
    ("put", "/api/v1/scoring/models/{model_id}"): {"name": "renamed"},
    ("post", "/api/v1/scoring/models/{model_id}/rules"): {
        "kind": "engagement",
        "name": "r",
        "event_type": "note",
        "points": 1,
    },
    ("put", "/api/v1/scoring/rules/{rule_id}"): {
        "kind": "engagement",
        "name": "r",
        "event_type": "note",
        "points": 1,
    },
    ("post", "/api/v1/scoring/models/{model_id}/preview"): {"contact_id": "1"},
    ("patch", "/api/v1/lifecycle/stages/{stage_id}"): {"name": "renamed"},
    ("post", "/api/v1/contacts/{contact_id}/stage"): {"stage": "lead"},
    ("put", "/api/v1/segments/{segment_id}"): {"name": "renamed", "kind": "static"},
    ("post", "/api/v1/segments/{segment_id}/members"): {"contact_ids": ["1"]},
    ("post", "/api/v1/segments/{segment_id}/members/remove"): {"contact_ids": ["1"]},
    ("patch", "/api/v1/journeys/{journey_id}"): {"name": "renamed"},
    ("post", "/api/v1/journeys/{journey_id}/publish"): {},
    ("post", "/api/v1/journeys/{journey_id}/impact"): {},
    ("post", "/api/v1/journeys/{journey_id}/enrolments"): {"contact_ids": ["1"]},
    ("post", "/api/v1/journeys/{journey_id}/dry-run"): {"contact_id": "1"},
    ("put", "/api/v1/templates/{template_id}"): {"channel": "sms", "name": "t", "text": "x"},
    ("post", "/api/v1/templates/{template_id}/preview"): {"contact_id": "1"},
    ("put", "/api/v1/channel-accounts/{channel_account_id}"): {
        "channel": "sms",
        "kind": "sandbox",
        "name": "renamed",
    },
    ("post", "/api/v1/channel-accounts/{channel_account_id}/inbound"): {},
    ("patch", "/api/v1/webhooks/{webhook_id}"): {"enabled": False},
}


def operations_with_ids(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    spec = app.openapi()
    found = []
    for path, ops in spec["paths"].items():
        if not path.startswith("/api/v1") or "{" not in path:
            continue
        for method, op in ops.items():
            found.append((method, path, op))
    return found


def victim_ids(victim: Tenant) -> dict[str, Any]:
    department = victim.department("Victim dept")
    member = victim.add(Role.sales, department_id=department)
    api, h = TestClient(victim.app), victim.admin.auth
    field = api.post(
        "/api/v1/custom-fields",
        json={"object": "contact", "key": "vip", "label": "VIP", "type": "boolean"},
        headers=h,
    ).json()
    contact = api.post(
        "/api/v1/contacts",
        json={"name": "Victim", "email": "victim@example.test", "custom": {"vip": True}},
        headers=h,
    ).json()
    twin = api.post(
        "/api/v1/contacts", json={"name": "Twin", "phone": "13800000000"}, headers=h
    ).json()
    merge = api.post(
        f"/api/v1/contacts/{contact['id']}/merge", json={"other_id": twin["id"]}, headers=h
    ).json()
    account = api.post(
        "/api/v1/accounts", json={"name": "Victim Co", "domain": "victim.example"}, headers=h
    ).json()
    api.put(
        f"/api/v1/accounts/{account['id']}/contacts/{contact['id']}",
        json={"role": "champion"},
        headers=h,
    )
    identity = api.get(f"/api/v1/contacts/{contact['id']}", headers=h).json()["identities"][0]
    upload = api.post(
        "/api/v1/imports/files",
        files={"file": ("v.csv", b"email\nv2@example.test\n", "text/csv")},
        headers=h,
    ).json()
    job = api.post(
        "/api/v1/imports",
        json={"file_id": upload["file_id"], "mapping": {"email": "email"}},
        headers=h,
    ).json()
    owned = api.post(
        "/api/v1/contacts", json={"name": "Owned", "owner_id": str(member.user_id)}, headers=h
    ).json()
    api.patch(
        f"/api/v1/contacts/{owned['id']}", json={"title": "x"}, headers=h
    )  # the member is told
    note = api.get("/api/v1/notifications", headers=member.auth).json()["items"][0]
    api.post("/api/v1/event-types", json={"name": "victim_type", "label": "V"}, headers=h)
    form = api.post(
        "/api/v1/forms",
        json={"name": "Victim form", "fields": [{"key": "email", "label": "Email"}]},
        headers=h,
    ).json()
    content = api.post(
        "/api/v1/content", json={"title": "Victim", "body": "text"}, headers=h
    ).json()
    group = api.post("/api/v1/tag-groups", json={"name": "Victim group"}, headers=h).json()
    tag = api.post(
        "/api/v1/tags", json={"name": "Victim tag", "group_id": group["id"]}, headers=h
    ).json()
    api.post(f"/api/v1/contacts/{contact['id']}/tags", json={"tag_ids": [tag["id"]]}, headers=h)
    tag_rule = api.post(
        "/api/v1/tag-rules",
        json={"name": "Victim rule", "tag_id": tag["id"], "trigger": "code", "code": "V"},
        headers=h,
    ).json()
    model = api.post("/api/v1/scoring/models", json={"name": "Victim model"}, headers=h).json()
    rule = api.post(
        f"/api/v1/scoring/models/{model['id']}/rules",
        json={"kind": "engagement", "name": "Notes", "event_type": "note", "points": 5},
        headers=h,
    ).json()
    stage = api.get("/api/v1/lifecycle/stages", headers=h).json()["items"][0]
    segment = api.post(
        "/api/v1/segments", json={"name": "Victim list", "kind": "static"}, headers=h
    ).json()
    api.post(
        f"/api/v1/segments/{segment['id']}/members",
        json={"contact_ids": [contact["id"]]},
        headers=h,
    )
    messaging = messaging_ids(api, h, contact["id"], segment["id"])
    with victim.session() as s:
        from guanxi.auth import repository

        key_id = repository.api_key_by_prefix(s, member.key.split("_")[1])
        assert key_id is not None
        return {
            "member": member.user_id,
            "department": department,
            "api_key": key_id.id,
            "workspace": victim.workspace_id,
            "contact": contact["id"],
            "account": account["id"],
            "identity": identity["id"],
            "merge": merge["id"],
            "field": field["id"],
            "channel": "email",
            "job": job["id"],
            "notification": note["id"],
            "file": upload["file_id"],
            "event_type": "victim_type",
            "form": form["id"],
            "content": content["id"],
            "tag_group": group["id"],
            "tag": tag["id"],
            "tag_rule": tag_rule["id"],
            "scoring_model": model["id"],
            "scoring_rule": rule["id"],
            "stage": stage["id"],
            "segment": segment["id"],
            **messaging,
        }


def messaging_ids(api: TestClient, h: dict[str, str], contact: str, segment: str) -> dict[str, Any]:
    """The victim's journey, template, channel account, message, broadcast, suppression,
    webhook and webhook delivery."""
    account = api.post(
        "/api/v1/channel-accounts",
        json={"channel": "sms", "kind": "sandbox", "name": "Victim SMS"},
        headers=h,
    ).json()
    template = api.post(
        "/api/v1/templates", json={"channel": "sms", "name": "Victim", "text": "hi"}, headers=h
    ).json()
    journey = api.post("/api/v1/journeys", json={"name": "Victim journey"}, headers=h).json()
    api.post(f"/api/v1/journeys/{journey['id']}/publish", json={}, headers=h)
    api.post(
        f"/api/v1/journeys/{journey['id']}/enrolments", json={"contact_ids": [contact]}, headers=h
    )
    message = api.post(
        "/api/v1/messages", json={"contact_id": contact, "template_id": template["id"]}, headers=h
    ).json()
    broadcast = api.post(
        "/api/v1/broadcasts",
        json={"name": "Victim blast", "template_id": template["id"], "segment_id": segment},
        headers=h,
    ).json()
    api.post(
        "/api/v1/suppressions",
        json={"channel": "email", "addresses": ["x@victim.example"]},
        headers=h,
    )
    suppression = api.get("/api/v1/suppressions", headers=h).json()["items"][0]
    webhook = api.post(
        "/api/v1/webhooks",
        json={"url": "https://victim.example/hook", "event_types": ["*"]},
        headers=h,
    ).json()
    delivery = api.post(f"/api/v1/webhooks/{webhook['id']}/test", headers=h).json()
    return {
        "journey": journey["id"],
        "template": template["id"],
        "channel_account": account["id"],
        "message": message["id"],
        "broadcast": broadcast["id"],
        "suppression": suppression["id"],
        "webhook": webhook["id"],
        "webhook_delivery": delivery["id"],
    }


def snapshot(victim: Tenant) -> str:
    client = TestClient(victim.app)
    h = victim.admin.auth
    parts = [
        client.get("/api/v1/users?limit=200", headers=h).text,
        client.get("/api/v1/departments", headers=h).text,
        client.get("/api/v1/contacts?limit=200", headers=h).text,
        client.get("/api/v1/contacts?limit=200&status=merged", headers=h).text,
        client.get("/api/v1/accounts?limit=200", headers=h).text,
        client.get("/api/v1/custom-fields", headers=h).text,
        client.get("/api/v1/event-types", headers=h).text,
        client.get("/api/v1/forms", headers=h).text,
        client.get("/api/v1/content", headers=h).text,
        client.get("/api/v1/tag-groups", headers=h).text,
        client.get("/api/v1/tags?limit=200", headers=h).text,
        client.get("/api/v1/tag-rules?limit=200", headers=h).text,
        client.get("/api/v1/scoring/models", headers=h).text,
        client.get("/api/v1/lifecycle/stages", headers=h).text,
        client.get("/api/v1/segments", headers=h).text,
        client.get("/api/v1/journeys", headers=h).text,
        client.get("/api/v1/templates", headers=h).text,
        client.get("/api/v1/channel-accounts", headers=h).text,
        client.get("/api/v1/messages?limit=200", headers=h).text,
        client.get("/api/v1/broadcasts", headers=h).text,
        client.get("/api/v1/suppressions?limit=200", headers=h).text,
        client.get("/api/v1/sending-policy", headers=h).text,
        *(
            client.get(f"/api/v1/webhooks/{w['id']}/deliveries", headers=h).text
            for w in client.get("/api/v1/webhooks", headers=h).json()["items"]
        ),
        client.get("/api/v1/webhooks", headers=h).text,
        *(
            client.get(f"/api/v1/journeys/{j['id']}/enrolments", headers=h).text
            for j in client.get("/api/v1/journeys", headers=h).json()
        ),
        re.sub(
            r'"last_used_at":"[^"]*"',
            "",
            client.get("/api/v1/api-keys?include_revoked=true&limit=200", headers=h).text,
        ),
    ]
    return "\n".join(parts)


# Routes that act on the signed-in login itself, not on a workspace: API keys get 403 there.
SESSION_ONLY = {
    ("post", "/api/v1/me/invitations/{workspace_id}/accept"),
    ("post", "/api/v1/me/invitations/{workspace_id}/decline"),
}


@pytest.mark.parametrize("via", ["api_key", "session"])
def test_every_id_endpoint_hides_other_workspaces(app: FastAPI, via: str) -> None:
    attacker, victim = make_tenant(app, "Attacker"), make_tenant(app, "Victim")
    ids = victim_ids(victim)
    before = snapshot(victim)
    client = TestClient(app)
    if via == "session":
        headers = {"X-CSRF-Token": login(client, attacker.admin.email)}
    else:
        headers = attacker.admin.auth
    operations = operations_with_ids(app)
    assert len(operations) >= 9
    for method, path, op in operations:
        params = re.findall(r"{(\w+)}", path)
        unknown = [p for p in params if p not in ID_KINDS]
        assert not unknown, f"{method.upper()} {path}: add {unknown} to ID_KINDS"
        url = path.format(**{p: ids[ID_KINDS[p]] for p in params})
        kwargs: dict[str, Any] = {"headers": headers}
        if "requestBody" in op:
            assert (method, path) in BODIES, f"{method.upper()} {path}: add a sample body"
            kwargs["json"] = BODIES[(method, path)]
        response = client.request(method.upper(), url, **kwargs)
        expected = (
            (403, "session_required")
            if via == "api_key" and (method, path) in SESSION_ONLY
            else (404, "not_found")
        )
        got = (response.status_code, response.json()["error"]["code"])
        assert got == expected, f"{via} {method.upper()} {url}: {response.text}"
    assert snapshot(victim) == before


def console_routes_with_ids(app: FastAPI) -> list[tuple[str, str]]:
    """The console's routes that take an id, from the app's route table."""
    found = []
    for context in iter_route_contexts(app.routes):
        path = context.path or ""
        if path.startswith("/app") and "{" in path:
            for method in sorted(getattr(context.original_route, "methods", None) or []):
                found.append((method, path))
    return found


CONSOLE_FORMS: dict[str, dict[str, str]] = {
    "/app/settings/users/{user_id}": {"role": "viewer", "data_scope": "all"},
    "/app/invitations/{workspace_id}": {"accept": "true"},
}


def test_every_console_id_route_hides_other_workspaces(app: FastAPI) -> None:
    attacker, victim = make_tenant(app, "Attacker"), make_tenant(app, "Victim")
    ids = victim_ids(victim)
    before = snapshot(victim)
    client = TestClient(app)
    client.get("/app/login")
    r = client.post(
        "/app/login",
        data={
            "email": attacker.admin.email,
            "password": PASSWORD,
            "login_csrf": client.cookies["guanxi_login_csrf"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/app").text).group(1)  # type: ignore[union-attr]
    routes = console_routes_with_ids(app)
    assert len(routes) >= 3
    for method, path in routes:
        params = re.findall(r"{(\w+)}", path)
        url = path.format(**{p: ids[ID_KINDS[p]] for p in params})
        data = {"csrf_token": token, **CONSOLE_FORMS.get(path, {})}
        response = client.request(method, url, data=data if method == "POST" else None)
        assert response.status_code == 404, f"{method} {url}: {response.status_code}"
        assert "<html" in response.text
    assert snapshot(victim) == before


def test_ids_in_bodies_and_filters_stay_in_their_workspace(app: FastAPI) -> None:
    attacker, victim = make_tenant(app, "Attacker"), make_tenant(app, "Victim")
    ids = victim_ids(victim)
    client = TestClient(app)
    h = attacker.admin.auth
    r = client.post(
        "/api/v1/departments", json={"name": "x", "parent_id": str(ids["department"])}, headers=h
    )
    assert r.status_code == 404
    r = client.post(
        "/api/v1/users",
        json={
            "email": "new@example.test",
            "name": "N",
            "password": "longenough",
            "role": "sales",
            "department_id": str(ids["department"]),
        },
        headers=h,
    )
    assert r.status_code == 404
    assert client.get("/api/v1/users?q=new@example.test", headers=h).json()["items"] == []
    r = client.get(f"/api/v1/api-keys?owner_id={ids['member']}", headers=h)
    assert r.status_code == 200
    assert r.json()["items"] == []
    r = client.get(f"/api/v1/users?department_id={ids['department']}", headers=h)
    assert r.json()["items"] == []


def test_a_session_cannot_switch_into_a_foreign_workspace(app: FastAPI) -> None:
    attacker, victim = make_tenant(app, "Attacker"), make_tenant(app, "Victim")
    client = TestClient(app)
    csrf = login(client, attacker.admin.email)
    r = client.post(
        "/api/v1/me/workspace",
        json={"workspace_id": str(victim.workspace_id)},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "no_workspace"
    assert client.get("/api/v1/workspace").json()["id"] == str(attacker.workspace_id)


@pytest.mark.parametrize(
    "path", ["/api/v1/workspace", "/api/v1/users", "/api/v1/departments", "/api/v1/api-keys"]
)
def test_lists_show_only_the_callers_workspace(app: FastAPI, path: str) -> None:
    a, b = make_tenant(app, "A"), make_tenant(app, "B")
    b.department("Only in B")
    b.add(Role.marketer)
    client = TestClient(app)
    text = client.get(path, headers=a.admin.auth).text
    assert str(b.workspace_id) not in text
    assert "Only in B" not in text
    assert b.admin.email not in text
