"""Journeys (旅程): the definition with its draft, the frozen versions, every contact's enrolment
(where it is, and when it is due again: a waiting contact is a row with a due time, never a
sleeping task), and the log of every step taken."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from guanxi.models.base import Base, JSONType, UTCDateTime, created_at_column, id_column


def _workspace() -> Mapped[int]:
    return mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )


class Journey(Base):
    """``status``: draft (never published) → active ⇄ paused → archived. ``draft`` is the graph
    being edited; ``version`` the latest published one (new enrolments start on it)."""

    __tablename__ = "journey"

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(12), default="draft")
    draft: Mapped[dict[str, Any]] = mapped_column(JSONType)
    version: Mapped[int | None] = mapped_column(Integer)
    # what the published version listens to, so the trigger reactor reads one column per journey
    trigger: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # when a scheduled or anniversary trigger next enrols (None: the trigger is not on a clock)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class JourneyVersion(Base):
    __tablename__ = "journey_version"

    workspace_id: Mapped[int] = _workspace()
    journey_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    graph: Mapped[dict[str, Any]] = mapped_column(JSONType)
    published_by: Mapped[int | None] = mapped_column(BigInteger)
    published_at: Mapped[datetime] = created_at_column()


class JourneyEnrolment(Base):
    """One contact's pass through one version of a journey. ``due_at`` is when the runner must
    look at it again (NULL once finished); ``step`` counts the steps taken and fences a runner
    that lost its claim; ``rotation`` is the contact's n-th enrolment in the journey."""

    __tablename__ = "journey_enrolment"
    __table_args__ = (
        UniqueConstraint("workspace_id", "journey_id", "contact_id", "rotation"),
        Index(
            "ix_journey_enrolment_due",
            "due_at",
            postgresql_where=text("due_at IS NOT NULL"),
            sqlite_where=text("due_at IS NOT NULL"),
        ),
        Index("ix_journey_enrolment_contact", "workspace_id", "contact_id"),
        Index("ix_journey_enrolment_node", "workspace_id", "journey_id", "status", "node_id"),
    )

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    journey_id: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)
    contact_id: Mapped[int] = mapped_column(BigInteger)
    rotation: Mapped[int] = mapped_column(Integer, default=1)
    node_id: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | done | failed
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    step: Mapped[int] = mapped_column(Integer, default=0)
    visits: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    source: Mapped[str | None] = mapped_column(String(40))  # trigger, api, manual, journey, batch
    entered_at: Mapped[datetime] = created_at_column()
    node_entered_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    exit_reason: Mapped[str | None] = mapped_column(String(24))
    error: Mapped[str | None] = mapped_column(String(500))


class JourneyWake(Base):
    """An event that may move on a contact's enrolment in a journey, recorded when the
    enrolment was already due — perhaps held by a runner that read the contact's events before
    this one was committed, and would put it back to wait. The runner applies these at the
    start of each round: the enrolment falls due again, nothing is missed."""

    __tablename__ = "journey_wake"

    workspace_id: Mapped[int] = _workspace()
    journey_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class JourneyStep(Base):
    """A step an enrolment took at a node: done, waiting, skipped (with the reason), goal, exit
    or failed. Per-node counts and split results are read from here."""

    __tablename__ = "journey_step"
    __table_args__ = (
        UniqueConstraint("workspace_id", "enrolment_id", "seq"),
        Index("ix_journey_step_node", "workspace_id", "journey_id", "node_id", "outcome"),
    )

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    journey_id: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)
    enrolment_id: Mapped[int] = mapped_column(BigInteger)
    contact_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(Integer)
    node_id: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(12))
    port: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class Task(Base):
    """A follow-up for a member about a contact (call them, send the quote), made by a journey
    step or by hand; ``status`` open → done."""

    __tablename__ = "task"
    __table_args__ = (Index("ix_task_assignee", "workspace_id", "assignee_id", "status", "due_at"),)

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    contact_id: Mapped[int | None] = mapped_column(BigInteger)
    assignee_id: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(8), default="open")
    journey_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
