"""Which stored conditions (and journeys) name a tag, a scoring model or a segment — so that
deleting one is refused while something reads it — and whether a stored tree still fits its workspace (a
reactor skips one that does not, rather than fail every event batch)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from guanxi.errors import InvalidValue
from guanxi.journey import references as journeys
from guanxi.models import LifecycleStage, ScoreRule, Segment, TagRule
from guanxi.segment import conditions

Named = Literal["tag", "model", "segment"]
JOURNEY_REFS: dict[str, str] = {"tag": "tags", "model": "score_models", "segment": "segments"}
CONDITION: TypeAdapter[Any] = TypeAdapter(conditions.Condition)


def names(tree: Any, kind: Named, target: int) -> bool:
    """Does a stored tree (JSON) name this tag, model or segment, at any depth?"""
    if isinstance(tree, list):
        return any(names(v, kind, target) for v in tree)
    if not isinstance(tree, dict):
        return False
    node, key = tree.get("kind"), str(target)
    if (
        (kind == "tag" and node == "tag" and key in [str(t) for t in tree.get("tags", [])])
        or (kind == "model" and node in ("score", "grade") and str(tree.get("model")) == key)
        or (kind == "segment" and node == "segment" and str(tree.get("segment")) == key)
    ):
        return True
    return any(names(v, kind, target) for v in tree.values())


def _stored(session: Session, workspace_id: int) -> Iterator[tuple[str, str, int, Any]]:
    """(what, name, id, tree) of every stored condition in the workspace."""
    ws = workspace_id
    for what, stmt in (
        (
            "segment",
            select(Segment.name, Segment.id, Segment.condition).where(Segment.workspace_id == ws),
        ),
        (
            "score_rule",
            select(ScoreRule.name, ScoreRule.model_id, ScoreRule.condition).where(
                ScoreRule.workspace_id == ws
            ),
        ),
        (
            "tag_rule",
            select(TagRule.name, TagRule.id, TagRule.condition).where(TagRule.workspace_id == ws),
        ),
        (
            "stage",
            select(LifecycleStage.name, LifecycleStage.id, LifecycleStage.entry_rule).where(
                LifecycleStage.workspace_id == ws
            ),
        ),
    ):
        for name, row_id, tree in session.execute(stmt):
            if tree is not None:
                yield what, name, row_id, tree


def user_of(
    session: Session,
    workspace_id: int,
    kind: Named,
    target: int,
    *,
    besides: tuple[str, int] | None = None,
) -> str | None:
    """The name of a segment, rule or stage whose condition names ``target`` (``besides``: one
    owner to leave out — a segment itself, or a model's own rules, given as (what, id))."""
    for what, name, row_id, tree in _stored(session, workspace_id):
        if (what, row_id) != besides and names(tree, kind, target):
            return str(name)
    return journeys.using(session, workspace_id, JOURNEY_REFS[kind], target)


def usable(tree: Any, schema: conditions.Schema) -> bool:
    """Does a stored tree still fit the workspace (its fields, tags, models, segments)?"""
    try:
        conditions.check(tree, schema)
    except InvalidValue:
        return False
    return True
