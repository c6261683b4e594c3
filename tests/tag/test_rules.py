"""Auto-tag rules, through the batch event API: event rules with property filters, channel code
and content rules, contact conditions, remove rules, exclusive groups, chains on tag_added,
what rules refuse, and one batch of many events."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import event as sa_event

from tests.factories import make_tenant
from tests.tag.client import Api


def send(api: Api, *events: dict[str, Any]) -> None:
    done = api.post("/events/batch", {"events": list(events)})
    assert done["rejected"] == 0, done


def ev(contact: str, type: str, **properties: Any) -> dict[str, Any]:
    return {"type": type, "contact_id": contact, "properties": properties}


def rule(api: Api, tag: str, **definition: Any) -> dict[str, Any]:
    body = {"name": f"rule for {tag}", "tag_id": tag, **definition}
    return api.post("/tag-rules", body, 201)  # type: ignore[no-any-return]


def test_an_event_rule_tags_on_matching_events(app: FastAPI) -> None:
    api = Api(make_tenant(app))
    pricing = api.tag("看过价格页")
    made = rule(
        api,
        pricing,
        event_type="page_view",
        where=[{"property": "url", "op": "contains", "value": "/pricing"}],
    )
    assert (made["trigger"], made["event_type"], made["enabled"]) == ("event", "page_view", True)
    a, b = api.contact("甲"), api.contact("乙")
    send(
        api,
        ev(a, "page_view", url="https://x.cn/pricing"),
        ev(b, "page_view", url="https://x.cn/blog"),
    )
    assert (api.tags_of(a), api.tags_of(b)) == (["看过价格页"], [])
    holding = api.get(f"/contacts/{a}/tags")["items"][0]
    assert (holding["source"], holding["rule_id"], holding["actor_id"]) == (
        "rule",
        made["id"],
        None,
    )
    added = api.get(f"/contacts/{a}/timeline?type=tag_added")["items"]
    assert [(e["properties"]["tag"], e["properties"]["rule_id"]) for e in added] == [
        ("看过价格页", made["id"])
    ]
    send(api, ev(a, "page_view", url="https://x.cn/pricing"))  # held: no second event
    assert len(api.get(f"/contacts/{a}/timeline?type=tag_added")["items"]) == 1


def test_channel_code_and_content_rules(app: FastAPI) -> None:
    api = Api(make_tenant(app))
    expo, reader = api.tag("2026展会"), api.tag("白皮书读者")
    by_code = rule(api, expo, trigger="code", code="EXPO2026")
    assert (by_code["event_type"], by_code["code"]) == ("qr_scan", "EXPO2026")
    paper = api.post("/content", {"title": "白皮书", "body": "正文"}, 201)["id"]
    by_content = rule(api, reader, trigger="content", content_id=paper)
    assert (by_content["event_type"], by_content["content_id"]) == ("content_view", paper)
    a, b = api.contact("扫码的人"), api.contact("读者")
    send(
        api,
        ev(a, "qr_scan", channel_code="EXPO2026"),
        ev(b, "qr_scan", channel_code="OTHER"),
        ev(b, "content_view", content_id=paper, dwell_s=30),
        ev(a, "content_view", content_id="999"),
    )
    assert (api.tags_of(a), api.tags_of(b)) == (["2026展会"], ["白皮书读者"])


def test_a_condition_and_a_remove_rule(app: FastAPI) -> None:
    api = Api(make_tenant(app))
    engaged, subscriber = api.tag("高活跃-上海"), api.tag("订阅者")
    twice = {
        "kind": "and",
        "all": [
            {"kind": "field", "field": "city", "op": "eq", "value": "上海"},
            {"kind": "event", "type": "page_view", "op": "gte", "value": 2},
        ],
    }
    rule(api, engaged, event_type="page_view", condition=twice)
    rule(api, subscriber, event_type="email_unsubscribed", action="remove")
    sh, bj = api.contact("上海人", city="上海"), api.contact("北京人", city="北京")
    api.post(f"/contacts/{sh}/tags", {"tag_ids": [subscriber]})
    send(api, ev(sh, "page_view", url="/a"), ev(bj, "page_view", url="/a"))
    assert api.tags_of(sh) == ["订阅者"]  # once is not twice
    send(api, ev(sh, "page_view", url="/b"), ev(bj, "page_view", url="/b"))
    assert (api.tags_of(sh), api.tags_of(bj)) == (["订阅者", "高活跃-上海"], [])
    send(api, ev(sh, "email_unsubscribed"), ev(bj, "email_unsubscribed"))
    assert api.tags_of(sh) == ["高活跃-上海"]
    assert ("tag_removed", "订阅者") in api.timeline(sh)
    assert api.timeline(bj) == []


def test_rules_in_an_exclusive_group_and_chains(app: FastAPI) -> None:
    api = Api(make_tenant(app))
    stage = api.group("意向阶段", exclusive=True)
    warm, hot = api.tag("温", group_id=stage), api.tag("热", group_id=stage)
    follow = api.tag("需跟进")
    rule(api, warm, event_type="page_view")
    rule(api, hot, event_type="form_submit")
    rule(
        api,
        follow,
        event_type="tag_added",
        where=[{"property": "tag_id", "op": "eq", "value": hot}],
    )
    off = rule(api, follow, event_type="page_view")
    api.patch(f"/tag-rules/{off['id']}", {"enabled": False, "name": "停用"})
    c = api.contact("客户")
    send(api, ev(c, "page_view", url="/"))
    assert api.tags_of(c) == ["温"]
    send(api, ev(c, "form_submit", form_id="1"))
    assert api.tags_of(c) == ["热", "需跟进"]
    assert ("tag_removed", "温") in api.timeline(c)


def test_bad_rules_are_refused_and_nothing_is_written(app: FastAPI) -> None:
    api, other = Api(make_tenant(app)), Api(make_tenant(app, "Other"))
    tag = api.tag("T")
    base = {"name": "r", "tag_id": tag}
    refused = api.post("/tag-rules", {**base, "event_type": "no_such_type"}, 422)
    assert refused["error"]["code"] == "invalid_tag_rule"
    bad = {"kind": "field", "field": "custom.nope", "op": "eq", "value": "x"}
    refused = api.post("/tag-rules", {**base, "event_type": "page_view", "condition": bad}, 422)
    assert refused["error"]["code"] == "invalid_condition"
    api.post("/tag-rules", {**base, "trigger": "code"}, 422)  # no code
    api.post("/tag-rules", {**base, "trigger": "code", "code": "x", "event_type": "x"}, 422)
    theirs = other.post("/content", {"title": "t", "body": "b"}, 201)["id"]
    api.post("/tag-rules", {**base, "trigger": "content", "content_id": theirs}, 404)
    api.post("/tag-rules", {**base, "tag_id": other.tag("X"), "event_type": "page_view"}, 404)
    assert api.get("/tag-rules")["items"] == []


def test_rules_are_listed_redefined_and_deleted(app: FastAPI) -> None:
    api = Api(make_tenant(app))
    a, b = api.tag("A"), api.tag("B")
    first = rule(api, a, trigger="code", code="C1")
    rule(api, b, event_type="page_view")
    assert len(api.get("/tag-rules")["items"]) == 2
    assert [r["tag_id"] for r in api.get(f"/tag-rules?tag_id={a}")["items"]] == [a]
    again = api.patch(f"/tag-rules/{first['id']}", {"code": "C2", "action": "remove"})
    assert (again["code"], again["action"], again["name"]) == ("C2", "remove", "rule for " + a)
    moved = api.patch(
        f"/tag-rules/{first['id']}",
        {
            "trigger": "event",
            "event_type": "form_submit",
            "condition": {"kind": "field", "field": "city", "op": "is_set"},
        },
    )
    assert (moved["event_type"], moved["code"], moved["condition"]["field"]) == (
        "form_submit",
        None,
        "city",
    )
    assert api.patch(f"/tag-rules/{first['id']}", {"condition": None})["condition"] is None
    api.patch(f"/tag-rules/{first['id']}", {"trigger": "code"}, 422)  # the code is missing
    api.patch(f"/tag-rules/{first['id']}", {"event_type": "nope"}, 422)
    assert api.get(f"/tag-rules/{first['id']}")["event_type"] == "form_submit"
    api.delete(f"/tag-rules/{first['id']}")
    api.get(f"/tag-rules/{first['id']}", 404)
    api.delete(f"/tags/{b}")  # a tag's rules go with it
    assert api.get("/tag-rules")["items"] == []


def test_a_big_batch_costs_a_few_queries(app: FastAPI) -> None:
    api = Api(make_tenant(app))
    tag = api.tag("批量")
    rule(
        api,
        tag,
        event_type="page_view",
        condition={"kind": "field", "field": "city", "op": "is_not_set"},
    )
    people = [api.contact(f"p{i}") for i in range(60)]
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = app.state.engine
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        send(api, *(ev(p, "page_view", url=f"/{i}") for i, p in enumerate(people * 3)))
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert all(api.tags_of(p) == ["批量"] for p in people[::7])
    rule_queries = [s for s in statements if "contact_tag" in s or "tag_rule" in s]
    assert len(rule_queries) < 15, rule_queries
