"""Journeys end to end on both databases, through the API, the reactor pipeline, the runner and
the sandbox connector: a trigger enrols, steps write their effects once, waits are rows with a
due time, an event wakes a wait, a goal pulls a contact out, re-entry holds, pause keeps waits,
a publish with a mapping moves running contacts, stats count it all and the dry run writes
nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

import guanxi.scoring.tasks  # noqa: F401  (registers the re-score job)
from guanxi.auth.permissions import Role
from guanxi.channels.sandbox.connector import mailbox
from guanxi.kit.clock import utcnow
from guanxi.models import JourneyEnrolment, Message, Task
from guanxi.worker.jobs import run_one
from tests.factories import Tenant, make_tenant
from tests.message.support import contact, dispatch, run_journeys, sandbox, template

DAY = 86400


def node(id_: str, kind: str, **config: Any) -> dict[str, Any]:
    return {"id": id_, "kind": kind, **config}


def edge(source: str, target: str, port: str = "out") -> dict[str, Any]:
    return {"source": source, "target": target, "port": port}


def journey(tenant: Tenant, graph: dict[str, Any], publish: bool = True) -> str:
    made = tenant.call("POST", "/journeys", json={"name": "培育", "graph": graph})
    if publish:
        tenant.call("POST", f"/journeys/{made['id']}/publish", json={})
    return str(made["id"])


def event(tenant: Tenant, contact_id: str, type_: str, **props: Any) -> None:
    tenant.call(
        "POST",
        "/events/batch",
        json={"events": [{"type": type_, "contact_id": contact_id, "properties": props}]},
    )


def tags_of(tenant: Tenant, contact_id: str) -> list[str]:
    items = tenant.call("GET", f"/contacts/{contact_id}/tags")["items"]
    return sorted(h["tag"]["name"] for h in items)


def enrolments(tenant: Tenant, journey_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = tenant.call("GET", f"/journeys/{journey_id}/enrolments")["items"]
    return items


def test_a_trigger_enrols_and_the_steps_do_their_work_once(app: FastAPI) -> None:
    tenant = make_tenant(app)
    box = f"j1-{tenant.workspace_id}"
    sandbox(tenant, "sms", box)
    sms = template(tenant, "sms", "欢迎")
    tag = tenant.call("POST", "/tags", json={"name": "培育中"})["id"]
    sales = tenant.add(Role.sales)
    graph = {
        "nodes": [
            node(
                "start",
                "entry",
                trigger={
                    "type": "event",
                    "event_type": "webinar_registered",
                    "filters": [{"property": "webinar_id", "op": "eq", "value": "w1"}],
                },
            ),
            node("hello", "send", channel="sms", template_id=int(sms)),
            node("tagit", "tag", add=[int(tag)]),
            node("owner", "assign", owner_id=sales.user_id),
            node("todo", "task", title="回访", due_in_s=DAY),
            node("ping", "notify", text="新线索进入培育"),
            node("mql", "stage", stage="mql"),
            node("wait", "wait", mode="duration", seconds=2 * DAY),
            node("bye", "exit"),
        ],
        "edges": [
            edge("start", "hello"),
            edge("hello", "tagit"),
            edge("tagit", "owner"),
            edge("owner", "todo"),
            edge("todo", "ping"),
            edge("ping", "mql"),
            edge("mql", "wait"),
            edge("wait", "bye"),
        ],
    }
    jid = journey(tenant, graph)
    person = contact(tenant, name="陈静", phone="13800001111")
    other = contact(tenant, name="不相关", phone="13800002222")
    event(tenant, person, "webinar_registered", webinar_id="w1")
    event(tenant, other, "webinar_registered", webinar_id="w2")  # filters keep this one out
    [enrolled] = enrolments(tenant, jid)
    assert (enrolled["contact_id"], enrolled["node_id"], enrolled["source"]) == (
        person,
        "start",
        "trigger",
    )

    now = utcnow()
    run_journeys(app, now)
    [waiting] = enrolments(tenant, jid)
    assert (waiting["node_id"], waiting["status"]) == ("wait", "active")
    assert abs(_at(waiting["due_at"]) - (now + timedelta(days=2))) < timedelta(seconds=5)
    card = tenant.call("GET", f"/contacts/{person}")["contact"]
    assert (card["owner_id"], card["stage"]) == (str(sales.user_id), "mql")
    assert tags_of(tenant, person) == ["培育中"]
    with tenant.session() as s:
        tasks = s.scalars(select(Task).where(Task.workspace_id == tenant.workspace_id)).all()
        assert [(t.title, t.assignee_id, t.contact_id) for t in tasks] == [
            ("回访", sales.user_id, int(person))
        ]
    dispatch(app, now)
    assert [m.text for m in mailbox(box).sent] == ["欢迎: 陈静"]

    run_journeys(app, now + timedelta(days=1))  # not due: nothing moves, nothing repeats
    assert enrolments(tenant, jid)[0]["node_id"] == "wait"
    run_journeys(app, now + timedelta(days=2, seconds=1))
    [done] = enrolments(tenant, jid)
    assert (done["status"], done["exit_reason"]) == ("done", "exit_node")
    types = [e["type"] for e in tenant.call("GET", f"/contacts/{person}/timeline")["items"]]
    assert "journey_entered" in types
    assert "journey_exited" in types
    stats = tenant.call("GET", f"/journeys/{jid}/stats")
    by_node = {n["node"]: n for n in stats["nodes"]}
    assert (stats["enrolled"], stats["finished"]) == (1, 1)
    assert by_node["hello"]["messages"]["sent"] == 1
    assert by_node["wait"]["entered"] == 1
    assert by_node["bye"]["entered"] == 1
    with tenant.session() as s:
        count = s.scalar(select(func.count()).where(Message.workspace_id == tenant.workspace_id))
        assert count == 1


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_an_event_wakes_a_wait_and_a_goal_pulls_the_contact_out(app: FastAPI) -> None:
    tenant = make_tenant(app)
    graph = {
        "nodes": [
            node("start", "entry", trigger={"type": "manual"}),
            node(
                "await",
                "wait",
                mode="event",
                event_type="form_submit",
                filters=[],
                timeout_s=7 * DAY,
            ),
            node(
                "got", "tag", add=[int(tenant.call("POST", "/tags", json={"name": "已提交"})["id"])]
            ),
            node(
                "late", "tag", add=[int(tenant.call("POST", "/tags", json={"name": "超时"})["id"])]
            ),
            node("long", "wait", mode="duration", seconds=30 * DAY),
            node(
                "won",
                "goal",
                condition={"kind": "field", "field": "stage", "op": "eq", "value": "sql"},
            ),
        ],
        "edges": [
            edge("start", "await"),
            edge("await", "got", "event"),
            edge("await", "late", "timeout"),
            edge("got", "long"),
            edge("late", "long"),
        ],
    }
    jid = journey(tenant, graph)
    fast, slow, winner = (contact(tenant, name=n) for n in ("快", "慢", "赢"))
    enrolled = tenant.call(
        "POST", f"/journeys/{jid}/enrolments", json={"contact_ids": [fast, slow, winner]}
    )
    assert sorted(enrolled["enrolled"]) == sorted([fast, slow, winner])
    now = utcnow()
    run_journeys(app, now)
    assert {e["node_id"] for e in enrolments(tenant, jid)} == {"await"}

    event(tenant, fast, "form_submit", form_id="9")
    [woken] = [e for e in enrolments(tenant, jid) if e["contact_id"] == fast]
    assert _at(woken["due_at"]) <= utcnow()  # the reactor woke it
    run_journeys(app, utcnow())
    places = {e["contact_id"]: e["node_id"] for e in enrolments(tenant, jid)}
    assert places == {fast: "long", slow: "await", winner: "await"}
    assert tags_of(tenant, fast) == ["已提交"]

    tenant.call("PATCH", f"/contacts/{winner}", json={"stage": "sql"})
    run_journeys(app, utcnow())
    [won] = [e for e in enrolments(tenant, jid) if e["contact_id"] == winner]
    assert (won["status"], won["exit_reason"], won["node_id"]) == ("done", "goal", "won")

    run_journeys(app, now + timedelta(days=7, seconds=1))
    [timed_out] = [e for e in enrolments(tenant, jid) if e["contact_id"] == slow]
    assert timed_out["node_id"] == "long"
    assert tags_of(tenant, slow) == ["超时"]
    stats = tenant.call("GET", f"/journeys/{jid}/stats")
    assert (stats["converted"], stats["conversion"]) == (1, round(1 / 3, 4))


def test_reentry_pause_and_a_publish_that_moves_running_contacts(app: FastAPI) -> None:
    tenant = make_tenant(app)
    first = {
        "nodes": [
            node("start", "entry", trigger={"type": "manual"}),
            node("w1", "wait", mode="duration", seconds=DAY),
        ],
        "edges": [edge("start", "w1")],
        "settings": {"reentry": {"policy": "never"}},
    }
    jid = journey(tenant, first)
    a, b = contact(tenant, name="甲"), contact(tenant, name="乙")
    tenant.call("POST", f"/journeys/{jid}/enrolments", json={"contact_ids": [a, b]})
    again = tenant.call("POST", f"/journeys/{jid}/enrolments", json={"contact_ids": [a]})
    assert again["enrolled"] == []  # never re-enters
    now = utcnow()
    run_journeys(app, now)

    tenant.call("POST", f"/journeys/{jid}/pause")
    assert run_journeys(app, now + timedelta(days=2)) == 0  # paused: the waits keep their times
    r = TestClient(app).post(
        f"/api/v1/journeys/{jid}/enrolments", json={"contact_ids": [b]}, headers=tenant.admin.auth
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "journey_not_active")

    second = {
        "nodes": [first["nodes"][0], node("w2", "wait", mode="duration", seconds=5 * DAY)],
        "edges": [edge("start", "w2")],
    }
    tenant.call("PATCH", f"/journeys/{jid}", json={"graph": second})
    impact = tenant.call("POST", f"/journeys/{jid}/impact", json={"mapping": {"1": {"w1": "w2"}}})
    assert impact == [{"version": 1, "node": "w1", "contacts": 2, "moves_to": "w2"}]
    bad = TestClient(app).post(
        f"/api/v1/journeys/{jid}/publish",
        json={"mapping": {"1": {"nope": "w2"}}},
        headers=tenant.admin.auth,
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (409, "invalid_mapping")
    published = tenant.call(
        "POST", f"/journeys/{jid}/publish", json={"mapping": {"1": {"w1": "w2"}}}
    )
    assert (published["version"], published["status"]) == (2, "paused")
    tenant.call("POST", f"/journeys/{jid}/resume")
    rows = enrolments(tenant, jid)
    assert {(e["version"], e["node_id"]) for e in rows} == {(2, "w2")}
    run_journeys(app, now + timedelta(days=2))
    assert {e["node_id"] for e in enrolments(tenant, jid)} == {"w2"}
    assert [v["version"] for v in tenant.call("GET", f"/journeys/{jid}/versions")] == [2, 1]


def test_publish_refuses_a_broken_graph_with_every_problem_and_writes_nothing(app: FastAPI) -> None:
    tenant = make_tenant(app)
    graph = {
        "nodes": [
            node("start", "entry", trigger={"type": "tag_added", "tag_id": 123}),
            node(
                "b", "branch", condition={"kind": "field", "field": "nope", "op": "eq", "value": 1}
            ),
            node("s", "send", channel="email", template_id=456),
            node("lost", "exit"),
        ],
        "edges": [edge("start", "b"), edge("b", "s", "yes")],
    }
    jid = journey(tenant, graph, publish=False)
    shown = tenant.call("GET", f"/journeys/{jid}")
    codes = sorted({p["code"] for p in shown["problems"]})
    assert codes == [
        "invalid_condition",
        "no_channel_account",
        "uncovered_port",
        "unknown_reference",
        "unreachable",
    ]
    r = TestClient(app).post(f"/api/v1/journeys/{jid}/publish", json={}, headers=tenant.admin.auth)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_journey")
    assert len(r.json()["error"]["details"]) == len(shown["problems"])
    after = tenant.call("GET", f"/journeys/{jid}")
    assert (after["status"], after["version"]) == ("draft", None)
    assert tenant.call("GET", f"/journeys/{jid}/versions") == []
    with tenant.session() as s:
        assert not s.scalar(
            select(func.count()).where(JourneyEnrolment.workspace_id == tenant.workspace_id)
        )


def test_the_dry_run_shows_the_path_on_a_simulated_clock_and_writes_nothing(app: FastAPI) -> None:
    tenant = make_tenant(app)
    sandbox(tenant, "sms", f"j5-{tenant.workspace_id}")
    sms = template(tenant, "sms", "提醒")
    graph = {
        "nodes": [
            node("start", "entry", trigger={"type": "manual"}),
            node("w", "wait", mode="duration", seconds=3 * DAY),
            node(
                "b",
                "branch",
                condition={"kind": "event", "type": "email_opened", "window": {"days": 3}},
            ),
            node("yes", "send", channel="sms", template_id=int(sms)),
            node("no", "exit"),
        ],
        "edges": [
            edge("start", "w"),
            edge("w", "b"),
            edge("b", "yes", "yes"),
            edge("b", "no", "no"),
        ],
    }
    jid = journey(tenant, graph, publish=False)
    person = contact(tenant, name="试跑")
    start = utcnow().replace(microsecond=0)
    steps = tenant.call(
        "POST",
        f"/journeys/{jid}/dry-run",
        json={
            "contact_id": person,
            "start": start.isoformat(),
            "events": [{"type": "email_opened", "at": (start + timedelta(days=1)).isoformat()}],
        },
    )
    assert [(s["node"], s["outcome"], s["port"]) for s in steps] == [
        ("start", "done", "out"),
        ("w", "waiting", None),
        ("w", "done", "out"),
        ("b", "done", "yes"),
        ("yes", "done", None),
    ]
    assert _at(steps[-1]["at"]) == start + timedelta(days=3)
    assert steps[-1]["effects"][0]["kind"] == "send"
    with tenant.session() as s:
        assert not s.scalar(select(func.count()).where(Message.workspace_id == tenant.workspace_id))


def test_a_score_step_gives_points_that_a_rescore_gives_again(app: FastAPI) -> None:
    tenant = make_tenant(app)
    model = tenant.call("POST", "/scoring/models", json={"name": "互动"})["id"]
    graph = {
        "nodes": [
            node("start", "entry", trigger={"type": "manual"}),
            node("bonus", "score", model_id=int(model), points=15, reason="参会"),
        ],
        "edges": [edge("start", "bonus")],
    }
    jid = journey(tenant, graph)
    person = contact(tenant, name="加分")
    tenant.call("POST", f"/journeys/{jid}/enrolments", json={"contact_ids": [person]})
    run_journeys(app, utcnow())

    def score() -> float:
        scores = tenant.call("GET", f"/contacts/{person}/scores")
        return float(next(s["score"] for s in scores if s["model_id"] == model))

    assert score() == 15
    # a new rule re-scores everyone from their events: the step's points come back with it
    tenant.call(
        "POST",
        f"/scoring/models/{model}/rules",
        json={"kind": "engagement", "name": "旅程", "event_type": "journey_entered", "points": 1},
    )

    while run_one(app.state.sessionmaker):
        pass
    assert score() == 16


def test_a_split_sends_contacts_down_each_variant_and_counts_their_conversions(
    app: FastAPI,
) -> None:
    tenant = make_tenant(app)
    a, b = (tenant.call("POST", "/tags", json={"name": n})["id"] for n in ("A组", "B组"))
    graph = {
        "nodes": [
            node("start", "entry", trigger={"type": "manual"}),
            node(
                "ab",
                "split",
                variants=[{"key": "A", "weight": 50}, {"key": "B", "weight": 50}],
            ),
            node("ta", "tag", add=[int(a)]),
            node("tb", "tag", add=[int(b)]),
            node("hold", "wait", mode="duration", seconds=DAY),
            node(
                "won",
                "goal",
                condition={"kind": "field", "field": "stage", "op": "eq", "value": "sql"},
            ),
        ],
        "edges": [
            edge("start", "ab"),
            edge("ab", "ta", "A"),
            edge("ab", "tb", "B"),
            edge("ta", "hold"),
            edge("tb", "hold"),
        ],
    }
    jid = journey(tenant, graph)
    people = [contact(tenant, name=f"分流{i}") for i in range(20)]
    tenant.call("POST", f"/journeys/{jid}/enrolments", json={"contact_ids": people})
    run_journeys(app, utcnow())
    in_a = [p for p in people if tags_of(tenant, p) == ["A组"]]
    in_b = [p for p in people if tags_of(tenant, p) == ["B组"]]
    assert len(in_a) + len(in_b) == 20
    assert in_a
    assert in_b
    for winner in in_a[:2]:
        tenant.call("PATCH", f"/contacts/{winner}", json={"stage": "sql"})
    run_journeys(app, utcnow())
    variants = {v["variant"]: v for v in tenant.call("GET", f"/journeys/{jid}/stats")["variants"]}
    assert (variants["A"]["contacts"], variants["A"]["converted"]) == (len(in_a), 2)
    assert (variants["B"]["contacts"], variants["B"]["converted"]) == (len(in_b), 0)


def test_what_a_journey_names_cannot_be_deleted_until_it_is_archived(app: FastAPI) -> None:
    tenant = make_tenant(app)
    sandbox(tenant, "sms", f"j9-{tenant.workspace_id}")
    sms = template(tenant, "sms", "引用")
    tag = tenant.call("POST", "/tags", json={"name": "引用标签"})["id"]
    segment = tenant.call("POST", "/segments", json={"name": "引用分群", "kind": "static"})["id"]
    hook = tenant.call(
        "POST", "/webhooks", json={"url": "https://erp.example.cn/h", "event_types": ["*"]}
    )["id"]
    graph = {
        "nodes": [
            node("start", "entry", trigger={"type": "segment_entered", "segment_id": int(segment)}),
            node("t", "tag", add=[int(tag)]),
            node("s", "send", channel="sms", template_id=int(sms)),
            node("w", "webhook", endpoint_id=int(hook)),
        ],
        "edges": [edge("start", "t"), edge("t", "s"), edge("s", "w")],
    }
    jid = journey(tenant, graph)
    client = TestClient(app)
    for path, code in (
        (f"/segments/{segment}", "segment_in_use"),
        (f"/tags/{tag}", "tag_in_use"),
        (f"/templates/{sms}", "template_in_use"),
        (f"/webhooks/{hook}", "webhook_in_use"),
    ):
        r = client.delete(f"/api/v1{path}", headers=tenant.admin.auth)
        assert (r.status_code, r.json()["error"]["code"]) == (409, code), path
        assert "培育" in r.json()["error"]["message"]
    tenant.call("POST", f"/journeys/{jid}/archive")
    for path in (f"/segments/{segment}", f"/tags/{tag}", f"/templates/{sms}", f"/webhooks/{hook}"):
        assert client.delete(f"/api/v1{path}", headers=tenant.admin.auth).status_code == 204
