"""Scoring (评分): models, their rules, the points ledger and each contact's materialised score.

Points are stored with the time they were earned (``score_point``) and never rewritten: decay is
computed, not applied nightly. For a half-life model a contact's engagement is kept *anchored*
to the model's ``epoch``: ``Σ points · 2^((earned_at − epoch) / half_life)``, a number that does
not change as time passes; the score at any moment is that times ``2^(−(now − epoch) /
half_life)``, which a query can compute (and compare) without touching a row. A model without
decay keeps the plain sum; a linear-window model sums its ledger over the window on read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from guanxi.models.base import Base, JSONType, UTCDateTime, created_at_column, id_column


def _workspace() -> Mapped[int]:
    return mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )


class ScoreModel(Base):
    """``kind`` points: engagement and fit rules of its own; combined: ``weights`` of other
    models. ``decay``: none | half_life | linear (points fade to nothing over ``decay_days``).
    ``grades``: fit thresholds for A, B and C (below C is D). ``rollup``: how an account's score
    gathers its contacts' (sum | max | top_n of ``rollup_n``)."""

    __tablename__ = "score_model"

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16), default="points")
    decay: Mapped[str] = mapped_column(String(16), default="none")
    decay_days: Mapped[int | None] = mapped_column(Integer)
    epoch: Mapped[datetime] = mapped_column(UTCDateTime())
    weights: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    grades: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    rollup: Mapped[str] = mapped_column(String(8), default="sum")
    rollup_n: Mapped[int] = mapped_column(Integer, default=3)
    # bumped by every rule change; the re-score job brings contacts to it
    version: Mapped[int] = mapped_column(Integer, default=1)
    scored_version: Mapped[int] = mapped_column(Integer, default=1)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_at_column()


class ScoreRule(Base):
    """``engagement``: ``points`` for each event of ``event_type`` matching ``where``, at most
    ``cap`` points per ``cap_days`` days per contact (points may be negative). ``fit``: points
    while the contact matches ``condition``. ``account_fit``: points to an account matching
    ``condition`` over its fields."""

    __tablename__ = "score_rule"
    __table_args__ = (Index("ix_score_rule_model", "workspace_id", "model_id"),)

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    model_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    event_type: Mapped[str | None] = mapped_column(String(64))
    where: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    condition: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    points: Mapped[float] = mapped_column(Float)
    cap: Mapped[float | None] = mapped_column(Float)
    cap_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()


class ScorePoint(Base):
    """Points a contact earned (or lost) by an engagement rule for an event, when it happened."""

    __tablename__ = "score_point"
    __table_args__ = (
        Index("ix_score_point_contact", "workspace_id", "contact_id", "model_id", "earned_at"),
    )

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    model_id: Mapped[int] = mapped_column(BigInteger)
    rule_id: Mapped[int] = mapped_column(BigInteger)
    contact_id: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    points: Mapped[float] = mapped_column(Float)
    earned_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ContactScore(Base):
    """A contact's materialised score in one model: ``engagement`` as described above (anchored
    for half-life models; the plain sum without decay; unused for linear windows) and ``fit``,
    the points of the fit rules the contact matches now."""

    __tablename__ = "contact_score"
    __table_args__ = (Index("ix_contact_score_model", "workspace_id", "model_id"),)

    workspace_id: Mapped[int] = _workspace()
    model_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    engagement: Mapped[float] = mapped_column(Float, default=0.0)
    fit: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
