"""Published versions' graphs, parsed once a process: a version never changes once frozen."""

from __future__ import annotations

import json
from functools import lru_cache

from sqlalchemy.orm import Session

from guanxi.journey import graph as g
from guanxi.models import JourneyVersion


@lru_cache(maxsize=256)
def _parsed(workspace_id: int, journey_id: int, version: int, raw: str) -> g.Graph:
    return g.Graph.model_validate_json(raw)


def version_graph(session: Session, workspace_id: int, journey_id: int, version: int) -> g.Graph:
    row = session.get(JourneyVersion, (workspace_id, journey_id, version))
    if row is None:
        raise g.NodeMissing(f"journey {journey_id} has no version {version}")
    return _parsed(workspace_id, journey_id, version, json.dumps(row.graph, sort_keys=True))
