"""Background jobs: rows claimed by workers, with progress, a lease and a cancel request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from guanxi.models.base import Base, JSONType, UTCDateTime, created_at_column, id_column


class Job(Base):
    """``status``: pending → running → done | failed | cancelled (``cancel_requested`` asks a
    running job to stop at its next checkpoint). A worker holds ``lease_until``; a lease that
    runs out (a killed worker) lets another worker claim the job and resume from ``progress``."""

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_claim", "status", "lease_until"),)

    workspace_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = id_column()
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    progress: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str | None] = mapped_column(String(2000))


class ImportChange(Base):
    """The values an import replaced on an existing contact, so that cancelling restores them."""

    __tablename__ = "import_change"

    workspace_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    before: Mapped[dict[str, Any]] = mapped_column(JSONType)


class ImportError_(Base):
    """A row the import could not take, with its line, column, value and reason."""

    __tablename__ = "import_error"

    workspace_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    column: Mapped[str | None] = mapped_column(String(120))
    value: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(500))


class ImportMapping(Base):
    """A saved column mapping: header → target, reused for files of the same shape."""

    __tablename__ = "import_mapping"

    workspace_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(120))
    mapping: Mapped[dict[str, str]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = created_at_column()
