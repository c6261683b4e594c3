"""Forms (hosted and embedded) and their submissions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from guanxi.models.base import Base, JSONType, created_at_column, id_column


class Form(Base):
    """``public_key`` names the form on its public page and in embed snippets; ``fields`` and
    ``settings`` are validated by ``guanxi.form.schemas`` before they are stored."""

    __tablename__ = "form"

    workspace_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = id_column()
    public_key: Mapped[str] = mapped_column(String(24), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | archived
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class FormSubmission(Base):
    __tablename__ = "form_submission"
    __table_args__ = (
        Index("ix_form_submission_form", "workspace_id", "form_id", "created_at"),
        Index("ix_form_submission_ip", "workspace_id", "ip_hash", "created_at"),
    )

    workspace_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = id_column()
    form_id: Mapped[int] = mapped_column(BigInteger)
    contact_id: Mapped[int] = mapped_column(BigInteger)
    values: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    context: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    ip_hash: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_at_column()
