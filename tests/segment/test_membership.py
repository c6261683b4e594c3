"""Dynamic segments kept current incrementally (S6): events move a contact into a behavioural
segment at once and, when the clock passes the window, a timer moves it out again with no
rebuild; entries and exits are on the timeline and in the history; a segment naming another
follows it in the same pass; a condition that leads back to itself is refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from guanxi.db import transaction
from guanxi.event.records import Stored
from guanxi.kit.clock import utcnow
from guanxi.models import Segment, SegmentChange, SegmentMember, SegmentTimer
from guanxi.segment import membership, timers
from guanxi.segment.timing import TICK
from tests.factories import Tenant, make_tenant

PRICING_TWICE = {
    "kind": "event",
    "type": "page_view",
    "where": [{"property": "url", "op": "contains", "value": "/pricing"}],
    "window": {"days": 14},
    "op": "gte",
    "value": 2,
}


def view(email: str, days_ago: float, key: str) -> dict[str, Any]:
    return {
        "type": "page_view",
        "occurred_at": (utcnow() - timedelta(days=days_ago)).isoformat(),
        "properties": {"url": "https://acme.cn/pricing"},
        "identities": [{"kind": "email", "value": email}],
        "idempotency_key": key,
    }


def timeline_types(client: TestClient, tenant: Tenant, contact_id: str) -> list[str]:
    items = tenant.call("GET", f"/contacts/{contact_id}/timeline?limit=100")["items"]
    return [e["type"] for e in items]


def test_events_move_a_contact_in_and_time_moves_it_out(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    hot = tenant.call("POST", "/segments", json={"name": "Hot", "condition": PRICING_TWICE})
    # a segment over the first one follows it in the same pass
    not_hot = tenant.call(
        "POST",
        "/segments",
        json={
            "name": "Not hot",
            "condition": {"kind": "segment", "segment": hot["id"], "op": "not_in"},
        },
    )
    contact = tenant.call("POST", "/contacts", json={"name": "李雷", "email": "li@acme.cn"})
    tenant.call("POST", "/events/batch", json={"events": [view("li@acme.cn", 10, "v1")]})
    members = tenant.call("GET", f"/segments/{hot['id']}/members")["items"]
    assert members == []  # once is not twice

    tenant.call("POST", "/events/batch", json={"events": [view("li@acme.cn", 0.01, "v2")]})
    members = tenant.call("GET", f"/segments/{hot['id']}/members")["items"]
    assert [m["id"] for m in members] == [contact["id"]]
    assert tenant.call("GET", f"/segments/{hot['id']}")["member_count"] == 1
    assert "segment_entered" in timeline_types(client, tenant, contact["id"])
    not_hot_members = tenant.call("GET", f"/segments/{not_hot['id']}/members")["items"]
    assert contact["id"] not in [m["id"] for m in not_hot_members]

    # the timer waits for the older view to leave the window: no rebuild, no nightly job
    with tenant.session() as s:
        due = s.scalar(
            select(SegmentTimer.due_at).where(
                SegmentTimer.workspace_id == tenant.workspace_id,
                SegmentTimer.segment_id == int(hot["id"]),
            )
        )
    assert due is not None
    expected = utcnow() - timedelta(days=10) + timedelta(days=14)
    assert abs(due - expected) < timedelta(minutes=1)

    with transaction(app.state.sessionmaker) as s:  # a moment early: nothing changes
        timers.run_due(s, due - timedelta(minutes=5))
    assert len(tenant.call("GET", f"/segments/{hot['id']}/members")["items"]) == 1

    with transaction(app.state.sessionmaker) as s:
        timers.run_due(s, due + TICK)
    assert tenant.call("GET", f"/segments/{hot['id']}/members")["items"] == []
    assert tenant.call("GET", f"/segments/{hot['id']}")["member_count"] == 0
    not_hot_members = tenant.call("GET", f"/segments/{not_hot['id']}/members")["items"]
    assert [m["id"] for m in not_hot_members] == [contact["id"]]
    types = timeline_types(client, tenant, contact["id"])
    assert "segment_exited" in types
    with tenant.session() as s:
        causes = s.execute(
            select(SegmentChange.entered, SegmentChange.cause)
            .where(
                SegmentChange.workspace_id == tenant.workspace_id,
                SegmentChange.segment_id == int(hot["id"]),
            )
            .order_by(SegmentChange.at)
        ).all()
        assert [tuple(c) for c in causes] == [(True, "event"), (False, "timer")]
        # the last view leaves in 14 days: a timer waits for it too
        assert (
            s.scalar(
                select(func.count())
                .select_from(SegmentTimer)
                .where(
                    SegmentTimer.workspace_id == tenant.workspace_id,
                    SegmentTimer.segment_id == int(hot["id"]),
                )
            )
            == 1
        )
    history = tenant.call("GET", f"/segments/{hot['id']}/history?days=30")
    assert sum(d["entered"] for d in history) == 1
    assert sum(d["exited"] for d in history) == 0  # the exit is in the future of the real clock


def test_a_condition_leading_back_to_itself_is_refused(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    a = tenant.call("POST", "/segments", json={"name": "A", "condition": PRICING_TWICE})
    b = tenant.call(
        "POST",
        "/segments",
        json={"name": "B", "condition": {"kind": "segment", "segment": a["id"]}},
    )
    r = client.put(
        f"/api/v1/segments/{a['id']}",
        json={"name": "A", "condition": {"kind": "segment", "segment": b["id"]}},
        headers=tenant.admin.auth,
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "segment_cycle"
    with tenant.session() as s:  # nothing written
        stored = s.get(Segment, (tenant.workspace_id, int(a["id"])))
        assert stored is not None
        assert stored.condition["kind"] == "event"
        assert stored.refers_to == []
    r = client.delete(f"/api/v1/segments/{a['id']}", headers=tenant.admin.auth)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "segment_in_use")


def test_a_static_list_and_the_repair_rebuild(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    people = [
        tenant.call(
            "POST",
            "/contacts",
            json={"name": f"p{i}", "city": "上海" if i % 2 else "北京"},
        )["id"]
        for i in range(4)
    ]
    vip = tenant.call("POST", "/segments", json={"name": "VIP", "kind": "static"})
    assert tenant.call(
        "POST", f"/segments/{vip['id']}/members", json={"contact_ids": people[:3]}
    ) == {"added": 3, "removed": 0}
    again = tenant.call("POST", f"/segments/{vip['id']}/members", json={"contact_ids": people[:3]})
    assert again["added"] == 0
    gone = tenant.call(
        "POST",
        f"/segments/{vip['id']}/members/remove",
        json={"contact_ids": [people[0]]},
    )
    assert gone["removed"] == 1
    assert tenant.call("GET", f"/segments/{vip['id']}")["member_count"] == 2

    shanghai = tenant.call(
        "POST",
        "/segments",
        json={
            "name": "上海",
            "condition": {"kind": "field", "field": "city", "op": "eq", "value": "上海"},
        },
    )
    assert tenant.call("GET", f"/segments/{shanghai['id']}")["member_count"] == 2
    with tenant.session() as s:  # damage: a member lost
        s.query(SegmentMember).filter(
            SegmentMember.workspace_id == tenant.workspace_id,
            SegmentMember.segment_id == int(shanghai["id"]),
            SegmentMember.contact_id == int(people[1]),
        ).delete()
        s.commit()
    tenant.call("POST", f"/segments/{shanghai['id']}/rebuild")
    members = tenant.call("GET", f"/segments/{shanghai['id']}/members")["items"]
    assert sorted(m["id"] for m in members) == sorted([people[1], people[3]])
    # a dynamic segment's members are not added by hand
    r = client.post(
        f"/api/v1/segments/{shanghai['id']}/members",
        json={"contact_ids": [people[0]]},
        headers=tenant.admin.auth,
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "segment_not_static")


def test_a_segment_exports_its_members(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    people = [
        tenant.call("POST", "/contacts", json={"name": f"e{i}", "email": f"e{i}@acme.cn"})["id"]
        for i in range(3)
    ]
    chosen = tenant.call("POST", "/segments", json={"name": "Chosen", "kind": "static"})
    tenant.call(
        "POST",
        f"/segments/{chosen['id']}/members",
        json={"contact_ids": people[:2]},
    )
    listed = tenant.call("GET", f"/contacts?segment_id={chosen['id']}")["items"]
    assert sorted(c["id"] for c in listed) == sorted(people[:2])
    r = client.get(
        f"/api/v1/contacts/export.csv?segment_id={chosen['id']}", headers=tenant.admin.auth
    )
    assert r.status_code == 200
    rows = r.text.lstrip("\ufeff").splitlines()[1:]
    assert sorted(row.split(",")[0] for row in rows) == sorted(people[:2])
    r = client.get("/api/v1/contacts?segment_id=1", headers=tenant.admin.auth)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")


def test_a_profile_change_moves_a_contact_between_segments(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)
    city = {"kind": "field", "field": "city", "op": "eq", "value": "上海"}
    shanghai = tenant.call("POST", "/segments", json={"name": "上海", "condition": city})
    model = tenant.call("POST", "/scoring/models", json={"name": "Fit"})
    tenant.call(
        "POST",
        f"/scoring/models/{model['id']}/rules",
        json={"kind": "fit", "name": "上海", "condition": city, "points": 40},
    )
    contact = tenant.call("POST", "/contacts", json={"name": "韩梅梅", "city": "北京"})
    members = f"/segments/{shanghai['id']}/members"
    assert tenant.call("GET", members)["items"] == []

    tenant.call("PATCH", f"/contacts/{contact['id']}", json={"city": "上海"})
    assert [m["id"] for m in tenant.call("GET", members)["items"]] == [contact["id"]]
    scores = tenant.call("GET", f"/contacts/{contact['id']}/scores")
    assert scores[0]["fit"] == 40.0
    types = timeline_types(client, tenant, contact["id"])
    assert types[:3] == ["segment_entered", "score_changed", "profile_updated"]

    tenant.call("PATCH", f"/contacts/{contact['id']}", json={"city": "杭州"})
    assert tenant.call("GET", members)["items"] == []
    assert tenant.call("GET", f"/contacts/{contact['id']}/scores")[0]["fit"] == 0.0


def test_new_contacts_enter_segments_about_what_they_never_did(app: FastAPI) -> None:
    tenant = make_tenant(app)
    never = {"kind": "event", "type": "order", "op": "eq", "value": 0}
    segment = tenant.call("POST", "/segments", json={"name": "Never ordered", "condition": never})
    made = tenant.call("POST", "/contacts", json={"name": "新人"})["id"]
    view = {
        "type": "page_view",
        "properties": {"url": "https://acme.cn/"},
        "identities": [{"kind": "email", "value": "walk-in@acme.cn"}],
        "idempotency_key": "walk-in",
    }
    tenant.call("POST", "/events/batch", json={"events": [view]})
    walk_in = tenant.call("GET", "/contacts?q=walk-in")["items"][0]["id"]
    members = tenant.call("GET", f"/segments/{segment['id']}/members")["items"]
    assert sorted(m["id"] for m in members) == sorted([made, walk_in])


def test_segments_naming_others_follow_lists_and_rebuilds(app: FastAPI) -> None:
    tenant = make_tenant(app)
    people = [
        tenant.call("POST", "/contacts", json={"name": f"p{i}", "city": "北京"})["id"]
        for i in range(2)
    ]
    vip = tenant.call("POST", "/segments", json={"name": "VIP", "kind": "static"})
    in_vip = tenant.call(
        "POST",
        "/segments",
        json={"name": "In VIP", "condition": {"kind": "segment", "segment": vip["id"]}},
    )
    tenant.call("POST", f"/segments/{vip['id']}/members", json={"contact_ids": [people[0]]})
    assert [m["id"] for m in tenant.call("GET", f"/segments/{in_vip['id']}/members")["items"]] == [
        people[0]
    ]

    city = {"kind": "field", "field": "city", "op": "eq", "value": "上海"}
    a = tenant.call("POST", "/segments", json={"name": "A", "condition": city})
    b = tenant.call(
        "POST",
        "/segments",
        json={"name": "B", "condition": {"kind": "segment", "segment": a["id"]}},
    )
    assert tenant.call("GET", f"/segments/{b['id']}")["member_count"] == 0
    tenant.call(
        "PUT", f"/segments/{a['id']}", json={"name": "A", "condition": city | {"value": "北京"}}
    )
    assert tenant.call("GET", f"/segments/{b['id']}")["member_count"] == 2


def test_account_changes_move_their_contacts(app: FastAPI) -> None:
    tenant = make_tenant(app)
    makers = {"kind": "account", "field": "industry", "op": "eq", "value": "制造"}
    segment = tenant.call("POST", "/segments", json={"name": "Makers", "condition": makers})
    account = tenant.call("POST", "/accounts", json={"name": "华东零售", "industry": "零售"})
    contact = tenant.call("POST", "/contacts", json={"name": "王强"})
    tenant.call("PUT", f"/accounts/{account['id']}/contacts/{contact['id']}", json={"role": "user"})
    members = f"/segments/{segment['id']}/members"
    assert tenant.call("GET", members)["items"] == []
    tenant.call("PATCH", f"/accounts/{account['id']}", json={"industry": "制造"})
    assert [m["id"] for m in tenant.call("GET", members)["items"]] == [contact["id"]]
    tenant.call("DELETE", f"/accounts/{account['id']}/contacts/{contact['id']}")
    assert tenant.call("GET", members)["items"] == []


def test_a_batch_rechecks_each_segment_only_for_the_contacts_whose_events_can_change_it() -> None:
    def live(id: int, condition: dict[str, Any]) -> membership.Live:
        return membership.Live(id, f"s{id}", membership.CONDITION.validate_python(condition))

    hot = live(1, PRICING_TWICE)
    buyers = live(
        2, {"kind": "event", "type": "order", "window": {"days": 30}, "op": "gte", "value": 1}
    )
    not_hot = live(3, {"kind": "segment", "segment": "1", "op": "not_in"})
    at = utcnow()

    def event(contact_id: int, type: str, **properties: Any) -> Stored:
        return Stored(contact_id, contact_id, type, at, properties, None, None)

    batch = [
        event(10, "page_view"),
        event(11, "order"),
        event(12, "page_view"),
        event(12, "order"),
        event(13, "segment_exited", segment_id="1"),
        event(14, "email_opened"),
    ]
    segments = [hot, buyers, not_hot]
    assert membership.affected(segments, batch) == {1: {10, 12}, 2: {11, 12}, 3: {13}}
    # the segment naming "hot" is checked as well, for whoever moves in "hot" (by refresh)
    assert [s.id for s in membership.with_dependents(segments, {1, 2})] == [1, 2, 3]
