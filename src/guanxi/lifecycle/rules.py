"""Lifecycle entry rules, the third reactor of the pipeline (after tag rules and scoring)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from guanxi.event.records import Draft, Stored


def react(
    session: Session, workspace_id: int, events: Sequence[Stored], now: datetime
) -> list[Draft]:
    return []
