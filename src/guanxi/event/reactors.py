"""The reactor pipeline: after a batch of events is stored, each reactor runs on the whole batch,
in this order, in the same transaction.

A reactor is ``(session, workspace_id, events, now) -> derived drafts``: it works set-wise on
the batch (no query per event) and returns the events it derived (a tag added, a score
changed), which are stored and passed through the pipeline in their turn. Later modules add
their reactor here, in the order DESIGN.md gives: tag rules → scoring → lifecycle → segment
membership → journey triggers; last, the events go out to the webhooks that subscribe to them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from guanxi.event import attribution
from guanxi.event.records import Draft, Stored
from guanxi.journey import triggers as journeys
from guanxi.lifecycle import rules as lifecycle
from guanxi.scoring import engine as scoring
from guanxi.segment import membership as segments
from guanxi.segment.service import SCHEMA_CACHE
from guanxi.tag import rules as tag_rules
from guanxi.webhook import fanout as webhooks

Reactor = Callable[[Session, int, Sequence[Stored], datetime], list[Draft]]

REACTORS: tuple[tuple[str, Reactor], ...] = (
    ("attribution", attribution.react),
    ("tag_rules", tag_rules.react),
    ("scoring", scoring.react),
    ("lifecycle", lifecycle.react),
    ("segments", segments.react),
    ("journeys", journeys.react),
    ("webhooks", webhooks.react),
)

MAX_DEPTH = 4  # derived events of derived events … stop here: a cycle between rules, not work


def run(
    session: Session, workspace_id: int, events: Sequence[Stored], now: datetime
) -> list[Draft]:
    """Run every reactor on ``events``; returns what they derived, to be stored next."""
    derived: list[Draft] = []
    session.info[SCHEMA_CACHE] = {}  # one reading of the workspace's schema for every reactor
    try:
        for _, reactor in REACTORS:
            derived += reactor(session, workspace_id, events, now)
    finally:
        session.info.pop(SCHEMA_CACHE, None)
    return derived
