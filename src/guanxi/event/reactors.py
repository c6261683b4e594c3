"""The reactor pipeline: after a batch of events is stored, each reactor runs on the whole batch,
in this order, in the same transaction.

A reactor is ``(session, workspace_id, events, now) -> derived drafts``: it works set-wise on
the batch (no query per event) and returns the events it derived (a tag added, a score
changed), which are stored and passed through the pipeline in their turn. Later modules add
their reactor here, in the order DESIGN.md gives: tag rules → scoring → lifecycle → segment
membership → journey triggers; last, the events go out to the webhooks that subscribe to them.

The events a reactor derives are stored at once, so the reactors after it in the same pass see
them with the batch: segments are re-checked once for an order and the score it changed, not
once for the order and again, in a second round, for the ``score_changed``. Each reactor sees
each event exactly once; what a reactor derives for one before it (a ``segment_entered`` that a
tag rule listens to) waits for the next pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from guanxi.event import attribution
from guanxi.event.records import Draft, Stored
from guanxi.journey import triggers as journeys
from guanxi.kit import batch_memo
from guanxi.lifecycle import rules as lifecycle
from guanxi.scoring import engine as scoring
from guanxi.segment import membership as segments
from guanxi.tag import rules as tag_rules
from guanxi.webhook import fanout as webhooks

Reactor = Callable[[Session, int, Sequence[Stored], datetime], list[Draft]]
Write = Callable[[Sequence[Draft]], list[Stored]]  # stores drafts; returns the new ones

REACTORS: tuple[tuple[str, Reactor], ...] = (
    ("attribution", attribution.react),
    ("tag_rules", tag_rules.react),
    ("scoring", scoring.react),
    ("lifecycle", lifecycle.react),
    ("segments", segments.react),
    ("journeys", journeys.react),
    ("webhooks", webhooks.react),
)

MAX_DEPTH = 4  # passes over derived events of derived events …: past that, a cycle between rules


def run(
    session: Session, workspace_id: int, events: Sequence[Stored], now: datetime, write: Write
) -> None:
    """Run every reactor on ``events`` and on what they derive (stored with ``write``)."""
    seen: list[Stored] = list(events)  # every event of the batch so far, in the order stored
    read = [0] * len(REACTORS)  # how far into ``seen`` each reactor has got
    with batch_memo.scope(session):  # one reading of the workspace's rules for every reactor
        for _ in range(MAX_DEPTH):
            if all(done == len(seen) for done in read):
                break
            for i, (_, reactor) in enumerate(REACTORS):
                todo, read[i] = seen[read[i] :], len(seen)
                derived = reactor(session, workspace_id, todo, now) if todo else []
                if derived:
                    seen += write(derived)
