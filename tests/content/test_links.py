"""Tracked content links: opens and reads attributed to the sender, the sender told once an
hour per reader, outside pages reached through the link, anonymous readers stitched later."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from guanxi.auth.permissions import Role
from guanxi.models import Event
from tests.factories import make_tenant

BROWSER = (
    "Mozilla/5.0 (Macintosh) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
)


def test_a_recipient_link_records_open_and_read_and_alerts_the_sender(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    rep = tenant.add(Role.sales)
    h = tenant.admin.auth
    article = client.post(
        "/api/v1/content",
        json={"title": "2026 私域白皮书", "body": "第一段。\n\n第二段。"},
        headers=h,
    ).json()
    customer = client.post(
        "/api/v1/contacts", json={"name": "钱七", "owner_id": str(rep.user_id)}, headers=h
    ).json()["id"]
    made = client.post(
        f"/api/v1/content/{article['id']}/links", json={"recipient_id": customer}, headers=rep.auth
    )
    assert made.status_code == 201, made.text
    link = made.json()
    again = client.post(
        f"/api/v1/content/{article['id']}/links", json={"recipient_id": customer}, headers=rep.auth
    )
    assert again.json()["code"] == link["code"]  # one link per content × sender × recipient

    path = f"/c/{link['code']}"
    opened = client.get(path, headers={"User-Agent": BROWSER})
    assert opened.status_code == 200
    assert "第二段。" in opened.text
    client.get(path, headers={"User-Agent": BROWSER})  # opened twice within the hour
    client.get(path, headers={"User-Agent": "Googlebot/2.1"})
    read = client.post(
        f"{path}/read",
        content=json.dumps({"dwell_s": 42.5, "completion": 0.9}),
        headers={"User-Agent": BROWSER},
    )
    assert read.status_code == 204
    with tenant.session() as s:
        events = s.scalars(
            select(Event)
            .where(Event.workspace_id == tenant.workspace_id, Event.type != "profile_updated")
            .order_by(Event.id)
        ).all()  # (profile_updated: the contact was written when it was made)
    assert [(e.type, str(e.contact_id)) for e in events] == [
        ("content_open", customer),
        ("content_open", customer),
        ("content_view", customer),
    ]
    assert events[0].properties["sender_id"] == str(rep.user_id)
    assert (events[2].properties["dwell_s"], events[2].properties["completion"]) == (42.5, 0.9)
    notes = client.get("/api/v1/notifications", headers=rep.auth).json()["items"]
    opened_notes = [n for n in notes if n["kind"] == "content_opened"]
    assert len(opened_notes) == 1
    assert opened_notes[0]["payload"]["name"] == "钱七"


def test_an_open_link_to_an_outside_page_and_an_anonymous_reader(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    h = tenant.admin.auth
    outside = client.post(
        "/api/v1/content",
        json={"title": "Case study", "url": "https://www.example.cn/case"},
        headers=h,
    ).json()
    link = client.post(
        f"/api/v1/content/{outside['id']}/links", json={"channel_code": "expo-2026"}, headers=h
    ).json()
    hop = client.get(f"/c/{link['code']}", headers={"User-Agent": BROWSER}, follow_redirects=False)
    assert hop.status_code == 302
    assert hop.headers["location"] == "https://www.example.cn/case"
    aid = hop.cookies.get("gx_aid")
    assert aid
    with tenant.session() as s:
        [event] = s.scalars(select(Event).where(Event.workspace_id == tenant.workspace_id)).all()
    assert event.properties["channel_code"] == "expo-2026"
    contact = client.get(f"/api/v1/contacts/{event.contact_id}", headers=h).json()
    assert contact["contact"]["first_touch"]["channel_code"] == "expo-2026"
    assert client.get("/c/nosuchcode").status_code == 404
    bad = client.post("/api/v1/content", json={"title": "x"}, headers=h)
    assert bad.status_code == 422
