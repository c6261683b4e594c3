"""Accounts (companies) and contact ↔ account links with a role and a reporting line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, ForeignKeyConstraint, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from guanxi.models.base import Base, JSONType, created_at_column, id_column


class Account(Base):
    __tablename__ = "account"
    __table_args__ = (
        Index("ix_account_ws_name_key", "workspace_id", "name_key"),
        Index("ix_account_ws_domain", "workspace_id", "domain"),
        Index("ix_account_ws_owner", "workspace_id", "owner_id"),
    )

    workspace_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str | None] = mapped_column(String(253))
    industry: Mapped[str | None] = mapped_column(String(80))
    size: Mapped[str | None] = mapped_column(String(32))
    revenue: Mapped[float | None] = mapped_column(Numeric(18, 2, asdecimal=False))
    region: Mapped[str | None] = mapped_column(String(80))
    tier: Mapped[str | None] = mapped_column(String(8))  # KA | mid | SMB
    owner_id: Mapped[int | None] = mapped_column(BigInteger)
    custom: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    import_id: Mapped[int | None] = mapped_column(BigInteger)  # the import that created it
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class ContactAccount(Base):
    """A contact works at an account, with a role in its buying committee; ``reports_to_id`` is
    another contact of the same account (the org chart)."""

    __tablename__ = "contact_account"
    __table_args__ = (
        Index("ix_contact_account_account", "workspace_id", "account_id"),
        ForeignKeyConstraint(
            ["workspace_id", "contact_id"],
            ["contact.workspace_id", "contact.id"],
            name="fk_contact_account_contact",
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["workspace_id", "account_id"],
            ["account.workspace_id", "account.id"],
            name="fk_contact_account_account",
            ondelete="CASCADE",
        ),
    )

    workspace_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    role: Mapped[str | None] = mapped_column(String(24))
    title: Mapped[str | None] = mapped_column(String(120))
    reports_to_id: Mapped[int | None] = mapped_column(BigInteger)
    # the import that made the link, so that cancelling it removes the link (no index: rare)
    import_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()
