"""A journey's graph as data: the nurture journey of scenario 5 is valid and survives a JSON
round trip; each rule of ``validate`` refuses one graph with its own code; each node refuses a
configuration that makes no sense; and the helpers name what a graph references."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from guanxi.journey import checks
from guanxi.journey import graph as g

DAY = 86400


def scenario_5() -> dict[str, Any]:
    """Whitepaper download → email now → 3 days → opened it? WeCom from the owner : SMS →
    Tuesday 10:00 → case study; becoming SQL anywhere is the goal."""
    return {
        "nodes": [
            {"id": "start", "kind": "entry", "trigger": {"type": "form_submitted", "form_id": 7},
             "x": 0, "y": 0, "label": "白皮书下载"},
            {"id": "welcome", "kind": "send", "channel": "email", "template_id": 1},
            {"id": "three_days", "kind": "wait", "mode": "duration", "seconds": 3 * DAY},
            {"id": "opened", "kind": "branch", "condition": {
                "kind": "event", "type": "email_opened", "window": {"days": 7},
                "where": [{"property": "journey_node", "op": "eq", "value": "welcome"}]}},
            {"id": "wecom", "kind": "send", "channel": "wecom", "template_id": 2,
             "sender": "owner"},
            {"id": "sms", "kind": "send", "channel": "sms", "template_id": 3},
            {"id": "tuesday", "kind": "wait", "mode": "until", "weekdays": [2], "time": "10:00"},
            {"id": "case_study", "kind": "send", "channel": "email", "template_id": 4},
            {"id": "sql", "kind": "goal", "condition": {
                "kind": "field", "field": "stage", "op": "eq", "value": "sql"}},
        ],
        "edges": [
            {"source": "start", "target": "welcome"},
            {"source": "welcome", "target": "three_days", "port": "out"},
            {"source": "three_days", "target": "opened"},
            {"source": "opened", "target": "wecom", "port": "yes"},
            {"source": "opened", "target": "sms", "port": "no"},
            {"source": "wecom", "target": "tuesday"},
            {"source": "sms", "target": "tuesday"},
            {"source": "tuesday", "target": "case_study"},
        ],
        "settings": {"reentry": {"policy": "after_exit"}},
    }  # fmt: skip


def build(nodes: list[dict[str, Any]], edges: list[tuple[str, str, str]]) -> g.Graph:
    return g.Graph.model_validate(
        {"nodes": nodes, "edges": [{"source": s, "target": t, "port": p} for s, t, p in edges]}
    )


ENTRY = {"id": "start", "kind": "entry", "trigger": {"type": "manual"}}
EXIT = {"id": "end", "kind": "exit"}


def problems(graph: g.Graph) -> list[tuple[str, str | None, str | None]]:
    return [(p.code, p.node, p.port) for p in checks.validate(graph)]


def test_scenario_5_is_valid_and_round_trips() -> None:
    graph = g.Graph.model_validate(scenario_5())
    assert checks.validate(graph) == []
    checks.check(graph)
    again = g.Graph.model_validate_json(graph.model_dump_json())
    assert again == graph
    assert isinstance(g.node(graph, "tuesday"), g.WaitUntil)
    assert g.next_of(graph, "opened", "no") == "sms"
    assert g.next_of(graph, "case_study", "out") is None
    assert g.entry_of(graph) == graph.nodes[0]
    assert [n.id for n in g.goals(graph)] == ["sql"]
    assert graph.settings.reentry.policy == "after_exit"
    with pytest.raises(g.NodeMissing):
        g.node(graph, "nowhere")


def test_ports_of_each_kind() -> None:
    graph = g.Graph.model_validate(scenario_5())
    assert g.ports(g.node(graph, "opened")) == ("yes", "no")
    assert g.ports(g.node(graph, "welcome")) == ("out",)
    assert g.required_ports(g.node(graph, "welcome")) == ()
    split = g.SplitNode(
        id="ab", variants=(g.Variant(key="a", weight=1), g.Variant(key="b", weight=3))
    )
    assert g.required_ports(split) == ("a", "b")
    waits = g.WaitEvent(id="w", event_type="email_clicked", timeout_s=60)
    assert g.ports(waits) == g.required_ports(waits) == ("event", "timeout")
    assert g.ports(g.ExitNode(id="end")) == ()


WAIT = {"id": "w", "kind": "wait", "mode": "duration", "seconds": 60}
TAG = {"id": "t", "kind": "tag", "add": [1]}


@pytest.mark.parametrize(
    ("nodes", "edges", "expected"),
    [
        pytest.param(
            [ENTRY, EXIT, {"id": "end", "kind": "exit", "label": "again"}],
            [("start", "end", "out")],
            [("duplicate_node", "end", None)],
            id="duplicate_node",
        ),
        pytest.param([EXIT], [], [("no_entry", None, None)], id="no_entry"),
        pytest.param(
            [ENTRY, {**ENTRY, "id": "start2"}, EXIT],
            [("start", "end", "out"), ("start2", "end", "out")],
            [("many_entries", "start2", None), ("unreachable", "start2", None)],
            id="many_entries",
        ),
        pytest.param(
            [ENTRY, EXIT],
            [("start", "end", "out"), ("ghost", "end", "out")],
            [("unknown_node", "ghost", None)],
            id="unknown_node",
        ),
        pytest.param(
            [ENTRY, EXIT],
            [("start", "end", "yes")],
            [("unknown_port", "start", "yes")],
            id="unknown_port",
        ),
        pytest.param(
            [ENTRY, EXIT, {"id": "other", "kind": "exit"}],
            [("start", "end", "out"), ("start", "other", "out")],
            [("duplicate_port", "start", "out")],
            id="duplicate_port",
        ),
        pytest.param(
            [
                ENTRY,
                EXIT,
                {"id": "b", "kind": "branch", "condition": {"kind": "tag", "tags": ["1"]}},
            ],
            [("start", "b", "out"), ("b", "end", "yes")],
            [("uncovered_port", "b", "no")],
            id="uncovered_port",
        ),
        pytest.param(
            [ENTRY, WAIT],
            [("start", "w", "out"), ("w", "start", "out")],
            [("edge_into_entry", "start", None)],
            id="edge_into_entry",
        ),
        pytest.param(
            [ENTRY, EXIT, TAG],
            [("start", "end", "out"), ("end", "t", "out")],
            [("exit_has_out_edge", "end", None)],
            id="exit_has_out_edge",
        ),
        pytest.param(
            [ENTRY, EXIT, {**TAG, "id": "lost"}],
            [("start", "end", "out"), ("lost", "end", "out")],
            [("unreachable", "lost", None)],
            id="unreachable",
        ),
        pytest.param(
            [
                ENTRY,
                TAG,
                {"id": "s", "kind": "score", "model_id": 1, "points": 5},
                {"id": "self", "kind": "notify", "text": "again"},
            ],
            [("start", "t", "out"), ("t", "s", "out"), ("s", "t", "out"), ("self", "self", "out")],
            [
                ("unreachable", "self", None),
                ("loop_without_wait", "t", None),
                ("loop_without_wait", "self", None),
            ],
            id="loop_without_wait",
        ),
    ],
)
def test_each_rule_refuses_its_graph(
    nodes: list[dict[str, Any]],
    edges: list[tuple[str, str, str]],
    expected: list[tuple[str, str | None, str | None]],
) -> None:
    graph = build(nodes, edges)
    assert problems(graph) == expected
    with pytest.raises(checks.InvalidJourney) as refused:
        checks.check(graph)
    assert refused.value.status == 422
    assert refused.value.code == "invalid_journey"
    assert refused.value.details == [
        {"code": code, "node": node, "port": port} for code, node, port in expected
    ]


def test_the_refusal_says_what_is_wrong() -> None:
    graph = build(
        [ENTRY, TAG, {"id": "s", "kind": "score", "model_id": 1, "points": 5}],
        [("start", "t", "out"), ("t", "s", "out"), ("s", "t", "out")],
    )
    with pytest.raises(checks.InvalidJourney) as refused:
        checks.check(graph)
    assert str(refused.value) == (
        "The journey is not valid: The loop through t, s has no wait. (problems found: 1)"
    )
    assert str(refused.value.problems[0].message) == "The loop through t, s has no wait."
    uncovered = build(
        [ENTRY, {"id": "ab", "kind": "split", "variants": [{"key": "a", "weight": 1}, {"key": "b", "weight": 1}]}, EXIT],
        [("start", "ab", "out"), ("ab", "end", "a")],
    )  # fmt: skip
    assert [str(p.message) for p in checks.validate(uncovered)] == [
        "ab has no edge from its port b."
    ]


def test_a_loop_through_a_wait_is_allowed() -> None:
    graph = build(
        [
            ENTRY,
            TAG,
            {"id": "reply", "kind": "wait", "mode": "event", "event_type": "message_in", "timeout_s": DAY},
            {"id": "nudge", "kind": "notify", "text": "still there?"},
            EXIT,
        ],
        [
            ("start", "t", "out"),
            ("t", "reply", "out"),
            ("reply", "end", "event"),
            ("reply", "nudge", "timeout"),
            ("nudge", "reply", "out"),
        ],
    )  # fmt: skip
    assert problems(graph) == []


def test_a_goal_needs_no_edge_into_it() -> None:
    graph = build(
        [ENTRY, EXIT, {"id": "won", "kind": "goal", "condition": {"kind": "tag", "tags": ["9"]}}, TAG],
        [("start", "end", "out"), ("won", "t", "out")],
    )  # fmt: skip
    assert problems(graph) == []


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"id": "t", "kind": "tag"}, "add or remove at least one tag"),
        ({"id": "s", "kind": "score", "model_id": 1, "points": 0}, "not 0"),
        ({"id": "a", "kind": "assign"}, "one of them"),
        ({"id": "a", "kind": "assign", "owner_id": 3, "round_robin": [4]}, "one of them"),
        (
            {"id": "ab", "kind": "split", "variants": [{"key": "a", "weight": 1}, {"key": "a", "weight": 2}]},
            "its own key",
        ),
        ({"id": "ab", "kind": "split", "variants": [{"key": "a", "weight": 1}]}, "at least 2"),
        ({"id": "h", "kind": "webhook", "url": "https://example.com/x"}, "endpoint_id"),
        ({"id": "h", "kind": "webhook", "endpoint_id": 1, "payload_fields": ["a b"]}, "pattern"),
        ({"id": "w", "kind": "wait", "mode": "until", "weekdays": [], "time": "10:00"}, "at least 1"),
        ({"id": "w", "kind": "wait", "mode": "until", "weekdays": [8], "time": "10:00"}, "less than or equal to 7"),
        ({"id": "w", "kind": "wait", "mode": "until", "weekdays": [2], "time": "24:00"}, "pattern"),
        ({"id": "w", "kind": "wait", "mode": "duration", "seconds": 0}, "greater than or equal to 1"),
        ({"id": "w", "kind": "wait", "mode": "forever"}, "does not match"),
        ({"id": "w", "kind": "wait", "mode": "event", "event_type": "x"}, "timeout_s"),
        ({"id": "has space", "kind": "exit"}, "pattern"),
        ({"id": "x" * 41, "kind": "exit"}, "pattern"),
        ({"id": "e", "kind": "exit", "label": "x" * 121}, "at most 120"),
        ({"id": "e", "kind": "exit", "extra": 1}, "Extra inputs"),
        ({"id": "e", "kind": "teleport"}, "does not match"),
        ({"id": "s", "kind": "send", "channel": "fax", "template_id": 1}, "channel"),
        ({"id": "s", "kind": "send", "channel": "email", "template_id": 1, "sender": "boss"}, "sender"),
        ({"id": "f", "kind": "set_field", "field": "custom.bad-key", "value": 1}, "pattern"),
        ({"id": "k", "kind": "task", "title": "call", "due_in_s": -1}, "greater than or equal to 0"),
        ({"id": "n", "kind": "notify", "user": "everyone", "text": "hi"}, "user"),
        ({"id": "s", "kind": "entry", "trigger": {"type": "anniversary", "field": "birthday", "days_before": 400}}, "less than or equal to 365"),
        ({"id": "s", "kind": "entry", "trigger": {"type": "scheduled", "segment_id": 1, "at": "2026-03-01T09:00:00"}}, "timezone"),
        ({"id": "s", "kind": "entry", "trigger": {"type": "segment_entered", "segment_id": 0}}, "greater than or equal to 1"),
    ],
)  # fmt: skip
def test_each_node_refuses_a_senseless_configuration(node: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        g.Graph.model_validate({"nodes": [node]})
    assert message in str(refused.value)


def test_every_trigger_and_node_kind_parses() -> None:
    at = "2026-03-01T09:00:00+08:00"
    triggers = [
        {"type": "segment_entered", "segment_id": 1},
        {"type": "segment_exited", "segment_id": 1},
        {"type": "event", "event_type": "page_view",
         "filters": [{"property": "url", "op": "contains", "value": "/pricing"}]},
        {"type": "tag_added", "tag_id": 2},
        {"type": "stage_changed", "stage": "mql"},
        {"type": "form_submitted"},
        {"type": "anniversary", "field": "custom.signup_date", "days_before": 7, "time": "09:30"},
        {"type": "manual"},
        {"type": "scheduled", "segment_id": 3, "at": at, "repeat": "weekly"},
    ]  # fmt: skip
    for trigger in triggers:
        entry = g.Graph.model_validate({"nodes": [{**ENTRY, "trigger": trigger}]}).nodes[0]
        assert isinstance(entry, g.EntryNode)
        assert entry.trigger.type == trigger["type"]
    clear = {"id": "s", "kind": "set_field", "field": "city", "value": None}
    parsed = g.Graph.model_validate({"nodes": [clear]}).nodes[0]
    assert parsed == g.SetFieldNode(id="s", field="city", value=None)


def test_what_a_graph_names() -> None:
    graph = build(
        [
            {**ENTRY, "trigger": {"type": "anniversary", "field": "birthday"}},
            {"id": "won", "kind": "goal", "condition": {"kind": "and", "all": [
                {"kind": "segment", "segment": "21"},
                {"kind": "score", "model": "31", "value": 50},
                {"kind": "not", "condition": {"kind": "tag", "tags": ["11", "12"]}}]}},
            {"id": "b", "kind": "branch", "condition": {"kind": "grade", "model": "32", "grades": ["A"]}},
            {"id": "mail", "kind": "send", "channel": "email", "template_id": 41},
            {"id": "t", "kind": "tag", "add": [13], "remove": [11]},
            {"id": "pts", "kind": "score", "model_id": 33, "points": -2.5},
            {"id": "more", "kind": "enrol", "journey_id": 51},
            {"id": "rr", "kind": "assign", "round_robin": [61, 62]},
            {"id": "own", "kind": "assign", "owner_id": 63},
            {"id": "todo", "kind": "task", "title": "call", "assignee": 64},
            {"id": "ping", "kind": "notify", "user": "owner", "text": "hi"},
            {"id": "set", "kind": "set_field", "field": "custom.plan", "value": "pro"},
            {"id": "reply", "kind": "wait", "mode": "event", "event_type": "message_in", "timeout_s": 60},
            {"id": "hook", "kind": "webhook", "endpoint_id": 71},
        ],
        [],
    )  # fmt: skip
    assert g.referenced_ids(graph) == {
        "segments": {21},
        "tags": {11, 12, 13},
        "templates": {41},
        "journeys": {51},
        "forms": set(),
        "score_models": {31, 32, 33},
        "users": {61, 62, 63, 64},
        "webhooks": {71},
    }
    assert [node_id for node_id, _ in g.conditions_of(graph)] == ["won", "b"]
    assert g.fields_of(graph) == {"birthday", "custom.plan"}
    assert g.event_types(graph) == {"message_in"}
    scenario = g.Graph.model_validate(scenario_5())
    assert g.referenced_ids(scenario)["forms"] == {7}
    assert g.referenced_ids(scenario)["templates"] == {1, 2, 3, 4}
    triggered = build([{**ENTRY, "trigger": {"type": "event", "event_type": "order"}}], [])
    assert g.event_types(triggered) == {"order"}
    for trigger, kind, ids in [
        ({"type": "segment_exited", "segment_id": 5}, "segments", {5}),
        ({"type": "scheduled", "segment_id": 6, "at": "2026-03-01T09:00:00Z"}, "segments", {6}),
        ({"type": "tag_added", "tag_id": 7}, "tags", {7}),
    ]:
        assert g.referenced_ids(build([{**ENTRY, "trigger": trigger}], []))[kind] == ids
