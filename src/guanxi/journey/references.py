"""Which journeys name a record — a segment, a tag, a scoring model, a template, a form, a
member, a webhook — directly (a trigger, a step) or in a branch's or goal's condition, so that
deleting the record is refused while a journey that can still run reads it."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from guanxi.journey import graph as g
from guanxi.models import Journey, JourneyVersion


def graphs(session: Session, workspace_id: int) -> Iterator[tuple[str, g.Graph]]:
    """(journey name, graph) of every draft and published version of journeys not archived."""
    live = (Journey.workspace_id == workspace_id) & (Journey.status != "archived")
    for name, raw in session.execute(select(Journey.name, Journey.draft).where(live)):
        yield name, g.Graph.model_validate(raw)
    versions = select(Journey.name, JourneyVersion.graph).join(
        JourneyVersion,
        (JourneyVersion.workspace_id == Journey.workspace_id)
        & (JourneyVersion.journey_id == Journey.id),
    )
    for name, raw in session.execute(versions.where(live)):
        yield name, g.Graph.model_validate(raw)


def using(session: Session, workspace_id: int, kind: str, target: int) -> str | None:
    """The name of a journey whose graph refers to ``target`` of ``kind`` (a key of
    ``graph.referenced_ids``: segments, tags, templates, score_models …), in a trigger, a step
    or a condition."""
    for name, graph in graphs(session, workspace_id):
        if target in g.referenced_ids(graph).get(kind, set()):
            return name
    return None
