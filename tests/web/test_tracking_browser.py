"""Acceptance for web tracking in a real browser: a customer's site (another origin) carries the
snippet; a visitor browses two pages anonymously, arriving from a campaign, then fills in a
guanxi form embedded in the second page. Their timeline shows both anonymous page views,
stitched to the new contact, and the campaign is their first touch."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.conftest import ARTIFACTS
from tests.factories import make_tenant

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
{snippet}</head><body><h1>{title}</h1>{body}</body></html>"""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A customer's static site on its own origin."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{port}"
    server.shutdown()


def test_anonymous_visits_are_stitched_to_the_form_contact(
    app: FastAPI, page: Page, live_server: str, site: tuple[Path, str], dialect: str
) -> None:
    root, origin = site
    tenant, api = make_tenant(app, "Tracking Co."), TestClient(app)
    h = tenant.admin.auth
    snippet = (
        api.put("/api/v1/tracking", json={"allowed_origins": [origin]}, headers=h)
        .json()["snippet"]
        .replace("http://testserver", live_server)
    )
    form = api.post(
        "/api/v1/forms",
        json={
            "name": "Book a demo",
            "language": "en",
            "fields": [
                {"key": "name", "label": "Name", "required": True},
                {"key": "email", "label": "Email", "type": "email", "required": True},
                {"key": "company", "label": "Company"},
            ],
        },
        headers=h,
    ).json()
    embed = form["embed"]
    (root / "landing.html").write_text(
        PAGE.format(
            title="Landing", snippet=snippet, body='<a id="next" href="/pricing.html">Pricing</a>'
        )
    )
    (root / "pricing.html").write_text(PAGE.format(title="Pricing", snippet=snippet, body=embed))

    page.goto(f"{origin}/landing.html?utm_source=wechat&utm_medium=social&utm_campaign=launch")
    page.wait_for_load_state("networkidle")
    page.click("#next")
    box = page.locator(f"#gx-form-{form['public_key']}")
    box.locator('input[name="name"]').fill("Ada Lin")
    box.locator('input[name="email"]').fill("ada@lin.example")
    box.locator('input[name="company"]').fill("Lin Analytics")
    box.locator('button[type="submit"]').click()
    expect(page.get_by_test_id("gx-thanks")).to_contain_text("Thank you")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"tracking-form-{dialect}.png"), full_page=True)

    found = api.get("/api/v1/contacts", params={"q": "ada@lin.example"}, headers=h).json()["items"]
    assert len(found) == 1
    contact = found[0]
    timeline = api.get(f"/api/v1/contacts/{contact['id']}/timeline", headers=h).json()["items"]
    views = [e for e in timeline if e["type"] == "page_view"]
    assert sorted(e["properties"]["url"].split("?")[0] for e in views) == [
        f"{origin}/landing.html",
        f"{origin}/pricing.html",
    ]
    assert {e["contact_id"] for e in timeline} == {contact["id"]}
    assert "form_submit" in [e["type"] for e in timeline]
    assert "page_leave" in [e["type"] for e in timeline]  # the landing page, left for pricing
    full = api.get(f"/api/v1/contacts/{contact['id']}", headers=h).json()["contact"]
    assert full["first_touch"]["utm_source"] == "wechat"
    assert full["first_touch"]["utm_campaign"] == "launch"
    assert full["first_touch"]["type"] == "page_view"
