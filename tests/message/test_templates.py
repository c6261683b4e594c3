"""Templates through the API on both databases: saved with a revision, previewed for a contact,
refused with the part and line when they do not compile (nothing written), and a template that
fails while being filled in is a 422 in the preview, not an error of the server."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import make_tenant
from tests.message.support import contact, template


def test_templates_compile_preview_and_refuse(app: FastAPI) -> None:
    tenant = make_tenant(app)
    client, h = TestClient(app), tenant.admin.auth
    person = contact(tenant, name="林木", email="lin@kehu.cn", custom={})
    made = template(
        tenant,
        "email",
        "欢迎",
        subject="{{ contact.name }}，欢迎",
        html="<p>{{ contact.city | default('各地') }}的朋友</p>",
    )
    shown = tenant.call("POST", f"/templates/{made}/preview", json={"contact_id": person})
    assert shown["subject"] == "林木，欢迎"
    assert "各地的朋友" in shown["html"]
    assert "各地的朋友" in shown["text"]

    broken = client.post(
        "/api/v1/templates",
        json={"channel": "email", "name": "坏", "subject": "x", "html": "<p>{% if %}</p>"},
        headers={**h, "Accept-Language": "en"},
    )
    assert (broken.status_code, broken.json()["error"]["code"]) == (422, "invalid_template")
    assert (
        "第 1 行" in broken.json()["error"]["message"] or "1" in broken.json()["error"]["message"]
    )
    assert [t["name"] for t in tenant.call("GET", "/templates")] == ["欢迎"]

    failing = template(tenant, "email", "除零", subject="x", html="<p>{{ 1 / 0 }}</p>")
    r = client.post(f"/api/v1/templates/{failing}/preview", json={"contact_id": person}, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_template")
    revised = tenant.call(
        "PUT",
        f"/templates/{made}",
        json={"channel": "email", "name": "欢迎", "subject": "Hi", "html": "<p>hi</p>"},
    )
    assert revised["revision"] == 2
