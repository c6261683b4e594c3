"""The reactor pipeline's passes: each reactor sees every event once, events derived earlier in
a pass reach the reactors after it in the same pass, and a cycle between rules stops."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import count
from types import SimpleNamespace
from typing import cast

import pytest
from sqlalchemy.orm import Session

from guanxi.event import reactors
from guanxi.event.records import Draft, Stored

NOW = datetime(2026, 11, 1, tzinfo=UTC)


class Pipeline:
    """Fake reactors that record what they see and derive events by a table of rules."""

    def __init__(self, derives: dict[str, dict[str, str]]) -> None:
        self.derives = derives  # reactor → {event type seen → type derived}
        self.seen: dict[str, list[list[str]]] = {name: [] for name in derives}
        self.ids: dict[str, list[int]] = {name: [] for name in derives}
        self.stored: list[Stored] = []
        self._ids = count(1)

    def reactor(self, name: str) -> reactors.Reactor:
        def react(_: Session, __: int, events: Sequence[Stored], now: datetime) -> list[Draft]:
            self.seen[name].append([e.type for e in events])
            self.ids[name] += [e.id for e in events]
            rules = self.derives[name]
            return [Draft(e.contact_id, rules[e.type], now) for e in events if e.type in rules]

        return react

    def write(self, drafts: Sequence[Draft]) -> list[Stored]:
        new = [
            Stored(next(self._ids), d.contact_id, d.type, d.occurred_at, {}, None, None)
            for d in drafts
        ]
        self.stored += new
        return new

    def run(self, monkeypatch: pytest.MonkeyPatch, types: list[str]) -> None:
        monkeypatch.setattr(reactors, "REACTORS", tuple((n, self.reactor(n)) for n in self.derives))
        session = cast(Session, SimpleNamespace(info={}))
        batch = self.write([Draft(7, t, NOW) for t in types])
        self.stored.clear()
        reactors.run(session, 1, batch, NOW, self.write)
        assert session.info == {}  # the schema cache lives only while the reactors run


def test_a_later_reactor_sees_what_an_earlier_one_derived_in_the_same_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipe = Pipeline(
        {
            "scoring": {"order": "score_changed"},
            "segments": {"score_changed": "segment_entered"},
            "webhooks": {},
        }
    )
    pipe.run(monkeypatch, ["order", "page_view"])
    assert pipe.seen["scoring"] == [["order", "page_view"], ["score_changed", "segment_entered"]]
    # one call for the order and the score it changed, not a second round for the score
    assert pipe.seen["segments"] == [["order", "page_view", "score_changed"], ["segment_entered"]]
    assert pipe.seen["webhooks"] == [["order", "page_view", "score_changed", "segment_entered"]]
    assert [e.type for e in pipe.stored] == ["score_changed", "segment_entered"]


def test_what_a_later_reactor_derives_reaches_an_earlier_one_in_the_next_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipe = Pipeline(
        {"tag_rules": {"segment_entered": "tag_added"}, "segments": {"order": "segment_entered"}}
    )
    pipe.run(monkeypatch, ["order"])
    assert pipe.seen["tag_rules"] == [["order"], ["segment_entered"], ["tag_added"]]
    assert pipe.seen["segments"] == [
        [
            "order",
        ],
        ["segment_entered", "tag_added"],
    ]
    assert [e.type for e in pipe.stored] == ["segment_entered", "tag_added"]


def test_a_cycle_between_rules_stops_after_the_last_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = Pipeline({"a": {"ping": "pong"}, "b": {"pong": "ping"}})
    pipe.run(monkeypatch, ["ping"])
    # every pass: a answers the ping, b the pong, in the same pass
    assert len(pipe.seen["a"]) == reactors.MAX_DEPTH
    assert [e.type for e in pipe.stored] == ["pong", "ping"] * reactors.MAX_DEPTH
    # nothing seen twice, and what the last pass derived is stored but seen by no one
    everything = [1] + [e.id for e in pipe.stored]  # the batch's event, then the derived
    assert pipe.ids["a"] == everything[:-2]  # the last pong came after a's turn
    assert pipe.ids["b"] == everything[:-1]  # the last ping is stored; no pass is left for it
