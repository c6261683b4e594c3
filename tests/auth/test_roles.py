"""Roles and data scopes: a viewer writes nothing; sales see their own records only."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.auth.permissions import DataScope, Role
from tests.factories import login, make_tenant

# Self-service routes every member may call: they change the caller's own login, not the
# workspace's data.
SELF_SERVICE = {
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/logout"),
    ("patch", "/api/v1/me"),
    ("post", "/api/v1/me/workspace"),
    ("post", "/api/v1/workspaces"),
    ("post", "/api/v1/me/invitations/{workspace_id}/accept"),
    ("post", "/api/v1/me/invitations/{workspace_id}/decline"),
    ("post", "/api/v1/notifications/{notification_id}/read"),
    ("post", "/api/v1/notifications/read-all"),
    ("post", "/api/v1/exports"),  # a read (a file of what one may see), started as a job
    ("post", "/api/v1/tracking/redirects"),  # a signed link: nothing is written
    ("post", "/api/v1/segments/preview"),  # a read (a count of what one may see)
    ("post", "/api/v1/scoring/models/{model_id}/preview"),  # a read (what a contact would score)
    ("post", "/api/v1/journeys/{journey_id}/impact"),  # a read (where running contacts would go)
    ("post", "/api/v1/journeys/{journey_id}/dry-run"),  # a simulation: nothing is written
    ("post", "/api/v1/templates/{template_id}/preview"),  # a read (what a contact would get)
}
SAMPLE_BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/workspace": {"name": "Renamed"},
    "/api/v1/departments": {"name": "New"},
    "/api/v1/departments/{department_id}": {"name": "Renamed"},
    "/api/v1/users": {
        "email": "x@example.test",
        "name": "X",
        "password": "longenough",
        "role": "sales",
    },
    "/api/v1/users/{user_id}": {"role": "admin"},
    "/api/v1/api-keys": {"name": "mine", "scopes": ["users:read"]},
    "/api/v1/contacts": {"name": "X"},
    "/api/v1/contacts/{contact_id}": {"title": "CTO"},
    "/api/v1/contacts/{contact_id}/identities": {"kind": "email", "value": "v@v.io"},
    "/api/v1/contacts/{contact_id}/consent/{channel}": {"status": "opt_in"},
    "/api/v1/contacts/{contact_id}/merge": {"other_id": "1"},
    "/api/v1/identify": {"identities": [{"kind": "email", "value": "v@v.io"}]},
    "/api/v1/custom-fields": {"object": "contact", "key": "x", "label": "X", "type": "text"},
    "/api/v1/custom-fields/{field_id}": {"label": "Y"},
    "/api/v1/accounts": {"name": "X"},
    "/api/v1/accounts/{account_id}": {"tier": "KA"},
    "/api/v1/accounts/{account_id}/contacts/{contact_id}": {"role": "user"},
    "/api/v1/imports": {"file_id": "1", "mapping": {}},
    "/api/v1/import-mappings": {"name": "m", "mapping": {}},
    "/api/v1/events/batch": {"events": [{"type": "note", "properties": {"text": "x"}}]},
    "/api/v1/event-types": {"name": "webinar_poll", "label": "Poll"},
    "/api/v1/tracking": {"allowed_origins": ["https://a.example"]},
    "/api/v1/forms": {"name": "f", "fields": [{"key": "email", "label": "e"}]},
    "/api/v1/forms/{form_id}": {"name": "f", "fields": [{"key": "email", "label": "e"}]},
    "/api/v1/content": {"title": "t", "body": "b"},
    "/api/v1/content/{content_id}": {"title": "t", "body": "b"},
    "/api/v1/content/{content_id}/links": {},
    "/api/v1/tag-groups": {"name": "G"},
    "/api/v1/tag-groups/{tag_group_id}": {"name": "G2"},
    "/api/v1/tags": {"name": "T"},
    "/api/v1/tags/{tag_id}": {"name": "T2"},
    "/api/v1/tags/{tag_id}/contacts": {"contact_ids": ["1"]},
    "/api/v1/contacts/{contact_id}/tags": {"tag_ids": ["1"]},
    "/api/v1/tag-rules": {"name": "r", "tag_id": "1", "trigger": "code", "code": "x"},
    "/api/v1/tag-rules/{tag_rule_id}": {"name": "r"},
    "/api/v1/scoring/models": {"name": "M"},
    "/api/v1/scoring/models/{model_id}": {"name": "M"},
    "/api/v1/scoring/models/{model_id}/rules": {
        "kind": "engagement",
        "name": "r",
        "event_type": "note",
        "points": 1,
    },
    "/api/v1/scoring/rules/{rule_id}": {
        "kind": "engagement",
        "name": "r",
        "event_type": "note",
        "points": 1,
    },
    "/api/v1/lifecycle/stages": {"key": "x", "name": "X"},
    "/api/v1/lifecycle/stages/{stage_id}": {"name": "Y"},
    "/api/v1/lifecycle/order": {"keys": ["lead"]},
    "/api/v1/contacts/{contact_id}/stage": {"stage": "lead"},
    "/api/v1/segments": {"name": "S", "kind": "static"},
    "/api/v1/segments/{segment_id}": {"name": "S", "kind": "static"},
    "/api/v1/segments/{segment_id}/members": {"contact_ids": ["1"]},
    "/api/v1/segments/{segment_id}/members/remove": {"contact_ids": ["1"]},
    "/api/v1/journeys": {"name": "J"},
    "/api/v1/journeys/{journey_id}": {"name": "J2"},
    "/api/v1/journeys/{journey_id}/publish": {},
    "/api/v1/journeys/{journey_id}/enrolments": {"contact_ids": ["1"]},
    "/api/v1/templates": {"channel": "sms", "name": "t", "text": "x"},
    "/api/v1/templates/{template_id}": {"channel": "sms", "name": "t", "text": "x"},
    "/api/v1/channel-accounts": {"channel": "sms", "kind": "sandbox", "name": "x"},
    "/api/v1/channel-accounts/{channel_account_id}": {
        "channel": "sms",
        "kind": "sandbox",
        "name": "x",
    },
    "/api/v1/messages": {"contact_id": "1", "template_id": "1"},
    "/api/v1/sending-policy": {},
    "/api/v1/broadcasts": {"name": "b", "template_id": "1", "segment_id": "1"},
    "/api/v1/suppressions": {"channel": "email", "addresses": ["a@b.io"]},
    "/api/v1/webhooks": {"url": "https://example.com/h", "event_types": ["*"]},
    "/api/v1/webhooks/{webhook_id}": {"enabled": False},
}
MULTIPART = {
    "/api/v1/imports/files": {"file": ("a.csv", b"email\nx@y.io\n", "text/csv")},
    "/api/v1/suppressions/import": {"file": ("s.csv", b"email\nx@y.io\n", "text/csv")},
}
FORM_FIELDS = {"/api/v1/suppressions/import": {"channel": "email"}}


def test_a_viewer_cannot_write_anywhere(app: FastAPI) -> None:
    tenant = make_tenant(app)
    viewer = tenant.add(Role.viewer)
    target = tenant.add(Role.sales)
    department = tenant.department("Sales")
    key_id = (
        TestClient(app).get("/api/v1/api-keys", headers=tenant.admin.auth).json()["items"][0]["id"]
    )
    ids = {
        "user_id": target.user_id,
        "department_id": department,
        "key_id": key_id,
        "contact_id": 1,
        "account_id": 1,
        "identity_id": 1,
        "merge_id": 1,
        "field_id": 1,
        "channel": "email",
        "job_id": 1,
        "notification_id": 1,
        "name": "webinar_poll",
        "form_id": 1,
        "content_id": 1,
        "tag_group_id": 1,
        "tag_id": 1,
        "tag_rule_id": 1,
        "model_id": 1,
        "rule_id": 1,
        "stage_id": 1,
        "segment_id": 1,
        "journey_id": 1,
        "template_id": 1,
        "channel_account_id": 1,
        "message_id": 1,
        "broadcast_id": 1,
        "suppression_id": 1,
        "webhook_id": 1,
        "delivery_id": 1,
    }
    client = TestClient(app)
    as_viewer = {"X-CSRF-Token": login(client, viewer.email)}  # a viewer works through a session
    before = client.get("/api/v1/users?limit=200", headers=tenant.admin.auth).text
    writes = 0
    for path, ops in app.openapi()["paths"].items():
        for method, op in ops.items():
            if method == "get" or not path.startswith("/api/v1") or (method, path) in SELF_SERVICE:
                continue
            writes += 1
            body = SAMPLE_BODIES.get(path) if "requestBody" in op else None
            files = MULTIPART.get(path)
            assert body is not None or files is not None or "requestBody" not in op, path
            r = client.request(
                method.upper(),
                path.format(**ids),
                json=body,
                files=files,
                data=FORM_FIELDS.get(path),
                headers=as_viewer,
            )
            assert r.status_code == 403, f"{method.upper()} {path}: {r.status_code} {r.text}"
            assert r.json()["error"]["code"] == "forbidden"
    assert writes >= 8
    assert client.get("/api/v1/users?limit=200", headers=tenant.admin.auth).text == before
    assert (
        client.get("/api/v1/departments", headers=tenant.admin.auth).json()["items"][0]["name"]
        == "Sales"
    )


def test_a_viewer_reads(app: FastAPI) -> None:
    tenant = make_tenant(app)
    viewer = tenant.add(Role.viewer)
    client = TestClient(app)
    login(client, viewer.email)
    assert client.get("/api/v1/users").status_code == 200
    assert client.get("/api/v1/workspace").status_code == 200
    me = client.get("/api/v1/me").json()
    assert me["permissions"] == sorted(
        [
            "workspace:read",
            "departments:read",
            "users:read",
            "api_keys:read",
            "fields:read",
            "contacts:read",
            "accounts:read",
            "events:read",
            "tags:read",
            "scoring:read",
            "lifecycle:read",
            "stages:read",
            "segments:read",
            "journeys:read",
            "templates:read",
            "messages:read",
            "channels:read",
            "webhooks:read",
        ]
    )


def key_names(client: TestClient, headers: dict[str, str]) -> set[str]:
    return {
        k["owner_id"]
        for k in client.get("/api/v1/api-keys?limit=200", headers=headers).json()["items"]
    }


def test_sales_see_their_own_records_only(app: FastAPI) -> None:
    tenant = make_tenant(app)
    rep_a, rep_b = tenant.add(Role.sales), tenant.add(Role.sales)
    client = TestClient(app)
    assert key_names(client, rep_a.auth) == {str(rep_a.user_id)}
    assert key_names(client, tenant.admin.auth) >= {str(rep_a.user_id), str(rep_b.user_id)}
    b_key = client.get(
        f"/api/v1/api-keys?owner_id={rep_b.user_id}", headers=tenant.admin.auth
    ).json()["items"][0]
    r = client.get(f"/api/v1/api-keys/{b_key['id']}", headers=rep_a.auth)
    assert r.status_code == 404
    r = client.post(f"/api/v1/api-keys/{b_key['id']}/revoke", headers=rep_a.auth)
    assert r.status_code == 404
    assert (
        client.get(f"/api/v1/api-keys/{b_key['id']}", headers=tenant.admin.auth).json()[
            "revoked_at"
        ]
        is None
    )


def test_team_scope_covers_the_department_and_its_subtree(app: FastAPI) -> None:
    tenant = make_tenant(app)
    sales = tenant.department("Sales")
    east = tenant.department("East", parent_id=sales)
    marketing = tenant.department("Marketing")
    lead = tenant.add(Role.sdr, department_id=sales, data_scope=DataScope.team)
    east_rep = tenant.add(Role.sales, department_id=east)
    outsider = tenant.add(Role.marketer, department_id=marketing)
    client = TestClient(app)
    seen = key_names(client, lead.auth)
    assert str(lead.user_id) in seen
    assert str(east_rep.user_id) in seen
    assert str(outsider.user_id) not in seen
    assert str(tenant.admin.user_id) not in seen


def test_only_the_owner_or_an_admin_revokes_a_key(app: FastAPI) -> None:
    tenant = make_tenant(app)
    lead = tenant.add(Role.sdr, data_scope=DataScope.all)
    rep = tenant.add(Role.sales)
    client = TestClient(app)
    rep_key = client.get(f"/api/v1/api-keys?owner_id={rep.user_id}", headers=lead.auth).json()[
        "items"
    ][0]
    r = client.post(f"/api/v1/api-keys/{rep_key['id']}/revoke", headers=lead.auth)
    assert r.status_code == 403
    assert (
        client.get(f"/api/v1/api-keys/{rep_key['id']}", headers=lead.auth).json()["revoked_at"]
        is None
    )
    r = client.post(f"/api/v1/api-keys/{rep_key['id']}/revoke", headers=tenant.admin.auth)
    assert r.status_code == 200
    assert r.json()["revoked_at"] is not None
