"""The checks a journey's graph must pass as a whole before it is published: ``validate`` lists
every problem with a stable code (the keys of ``PROBLEMS``, which never change once released)
and ``check`` refuses a graph that has any. Pure: no database."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from guanxi.errors import GuanxiError
from guanxi.i18n import N_, Message
from guanxi.journey.graph import (
    WAITS,
    EntryNode,
    ExitNode,
    Graph,
    goals,
    ports,
    required_ports,
)


@dataclass(frozen=True)
class Problem:
    code: str
    node: str | None
    message: Message
    port: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "node": self.node, "port": self.port}


class InvalidJourney(GuanxiError):
    """422 with every problem in ``details`` (code, node, port); ``problems`` keeps their
    messages for the console to show each in the reader's language."""

    status = 422
    code = "invalid_journey"
    message = N_("The journey is not valid: {problem} (problems found: {count})")

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            count=len(self.problems),
            problem=self.problems[0].message,
            details=[p.as_dict() for p in self.problems],
        )


PROBLEMS = {
    "duplicate_node": N_("The node id {node} is used twice."),
    "no_entry": N_("The journey has no entry."),
    "many_entries": N_("A journey has one entry; {node} is another."),
    "unknown_node": N_("An edge refers to {node}, which does not exist."),
    "edge_into_entry": N_("No edge may lead into the entry {node}."),
    "exit_has_out_edge": N_("The exit {node} cannot lead anywhere."),
    "unknown_port": N_("{node} has no port {port}."),
    "duplicate_port": N_("{node} has two edges from its port {port}."),
    "uncovered_port": N_("{node} has no edge from its port {port}."),
    "unreachable": N_("Nothing leads to {node} from the entry."),
    "loop_without_wait": N_("The loop through {nodes} has no wait."),
}


def _problem(code: str, node_id: str | None, port: str | None = None, **params: Any) -> Problem:
    message = Message(PROBLEMS[code], node=node_id, port=port, **params)
    return Problem(code, node_id, message, port)


def validate(graph: Graph) -> list[Problem]:
    """Every problem that keeps ``graph`` from being published (none: it may be)."""
    found: list[Problem] = []
    seen: set[str] = set()
    for n in graph.nodes:
        if n.id in seen:
            found.append(_problem("duplicate_node", n.id))
        seen.add(n.id)
    entries = [n for n in graph.nodes if isinstance(n, EntryNode)]
    if not entries:
        found.append(_problem("no_entry", None))
    found.extend(_problem("many_entries", extra.id) for extra in entries[1:])
    found.extend(_edge_problems(graph))
    if entries:
        found.extend(_unreachable(graph, entries[0].id))
    found.extend(_loops_without_wait(graph))
    return found


def check(graph: Graph) -> None:
    """Refuse (InvalidJourney, 422) a graph with any problem."""
    problems = validate(graph)
    if problems:
        raise InvalidJourney(problems)


def _edge_problems(graph: Graph) -> Iterator[Problem]:
    used: set[tuple[str, str]] = set()
    for e in graph.edges:
        source, target = graph.by_id.get(e.source), graph.by_id.get(e.target)
        for name, n in ((e.source, source), (e.target, target)):
            if n is None:
                yield _problem("unknown_node", name)
        if isinstance(target, EntryNode):
            yield _problem("edge_into_entry", e.target)
        if isinstance(source, ExitNode):
            yield _problem("exit_has_out_edge", e.source)
        elif source is not None and e.port not in ports(source):
            yield _problem("unknown_port", e.source, e.port)
        elif (e.source, e.port) in used:
            yield _problem("duplicate_port", e.source, e.port)
        used.add((e.source, e.port))
    for n in graph.by_id.values():
        for port in required_ports(n):
            if (n.id, port) not in used:
                yield _problem("uncovered_port", n.id, port)


def _successors(graph: Graph) -> dict[str, list[str]]:
    after: dict[str, list[str]] = {n: [] for n in graph.by_id}
    for e in graph.edges:
        if e.source in after and e.target in after:
            after[e.source].append(e.target)
    return after


def _reach(after: Mapping[str, Sequence[str]], roots: Sequence[str]) -> set[str]:
    seen, queue = set(roots), deque(roots)
    while queue:
        for t in after[queue.popleft()]:
            if t not in seen:
                seen.add(t)
                queue.append(t)
    return seen


def _unreachable(graph: Graph, entry: str) -> Iterator[Problem]:
    """Nodes no path leads to from the entry (goals are reached by their condition)."""
    reached = _reach(_successors(graph), [entry, *(g.id for g in goals(graph))])
    for n in graph.by_id.values():
        if n.id not in reached:
            yield _problem("unreachable", n.id)


def _loops_without_wait(graph: Graph) -> Iterator[Problem]:
    """A loop must pass a wait, or a contact would go round it at once, forever. Without the
    wait nodes, each strongly connected group of nodes with a cycle is one such loop."""
    after = {
        s: [t for t in ts if not isinstance(graph.by_id[t], WAITS)]
        for s, ts in _successors(graph).items()
        if not isinstance(graph.by_id[s], WAITS)
    }
    reach = {s: _reach(after, ts) for s, ts in after.items()}
    reported: set[str] = set()
    for n in after:  # graph order, so the first node of a loop names it
        if n in reach[n] and n not in reported:
            loop = [m for m in after if m in reach[n] and n in reach[m]]
            reported.update(loop)
            yield _problem("loop_without_wait", n, nodes=", ".join(loop))
