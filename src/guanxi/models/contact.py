"""Contacts, their identities, consent per channel, merges, and custom field definitions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from guanxi.models.base import Base, JSONType, UTCDateTime, created_at_column, id_column


def _exact(length: int) -> String:
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def _workspace_fk() -> Mapped[int]:
    return mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )


class Contact(Base):
    """One person. A merged contact stays (status ``merged``, ``merged_into_id``) so that a merge
    can be undone exactly; lookups only ever see active ones."""

    __tablename__ = "contact"
    __table_args__ = (
        Index("ix_contact_ws_updated", "workspace_id", "updated_at"),
        Index("ix_contact_ws_name", "workspace_id", "name_key"),
        # Partial: most contacts have no owner yet or were never merged; these stay small.
        Index(
            "ix_contact_ws_owner",
            "workspace_id",
            "owner_id",
            postgresql_where=text("owner_id IS NOT NULL"),
            sqlite_where=text("owner_id IS NOT NULL"),
        ),
        Index(
            "ix_contact_ws_merged_into",
            "workspace_id",
            "merged_into_id",
            postgresql_where=text("merged_into_id IS NOT NULL"),
            sqlite_where=text("merged_into_id IS NOT NULL"),
        ),
    )

    workspace_id: Mapped[int] = _workspace_fk()
    id: Mapped[int] = id_column()
    name: Mapped[str | None] = mapped_column(String(120))
    name_key: Mapped[str | None] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str | None] = mapped_column(String(120))
    gender: Mapped[str | None] = mapped_column(String(8))
    city: Mapped[str | None] = mapped_column(String(80))
    province: Mapped[str | None] = mapped_column(String(80))
    country: Mapped[str | None] = mapped_column(String(2))
    language: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    owner_id: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str | None] = mapped_column(String(120))
    stage: Mapped[str | None] = mapped_column(String(32))
    custom: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Attribution (E6): the earliest and the latest touch seen in events (guanxi.event.touch).
    first_touch: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    last_touch: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(8), default="active")  # active | merged
    merged_into_id: Mapped[int | None] = mapped_column(BigInteger)
    # The import job that created the contact: cancelling that import removes it again (a
    # rare operation: no index, so that imports do not pay for one).
    import_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class Identity(Base):
    """(kind, namespace, value) → contact, unique per workspace. ``namespace`` is the Official
    Account appid, the WeCom corp id or the source system; empty for the kinds without one."""

    __tablename__ = "identity"
    __table_args__ = (
        UniqueConstraint("workspace_id", "kind", "namespace", "value", name="uq_identity_value"),
        Index("ix_identity_contact", "workspace_id", "contact_id"),
        ForeignKeyConstraint(
            ["workspace_id", "contact_id"],
            ["contact.workspace_id", "contact.id"],
            name="fk_identity_contact",
            ondelete="CASCADE",
        ),
    )

    # No foreign key to the workspace of its own: the contact's composite key implies it, and
    # every foreign key is a per-row check when an import COPYs millions of identities.
    workspace_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = id_column()
    contact_id: Mapped[int] = mapped_column(BigInteger)
    # Byte order on PostgreSQL: identities are exact values, and C comparisons keep the unique
    # index cheap to maintain and to probe.
    kind: Mapped[str] = mapped_column(_exact(32))
    namespace: Mapped[str] = mapped_column(_exact(64), default="")
    value: Mapped[str] = mapped_column(_exact(255))
    source: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = created_at_column()


class ContactConsent(Base):
    """Opt-in or opt-out per contact and channel, with where it came from and when."""

    __tablename__ = "contact_consent"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "contact_id"],
            ["contact.workspace_id", "contact.id"],
            name="fk_contact_consent_contact",
            ondelete="CASCADE",
        ),
    )

    workspace_id: Mapped[int] = _workspace_fk()
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    channel: Mapped[str] = mapped_column(String(24), primary_key=True)
    status: Mapped[str] = mapped_column(String(8))  # opt_in | opt_out
    source: Mapped[str | None] = mapped_column(String(120))
    updated_at: Mapped[datetime] = created_at_column()


class ContactMerge(Base):
    """One merge: who survived, who was merged, why, and what moved — enough to undo it."""

    __tablename__ = "contact_merge"
    __table_args__ = (
        Index("ix_contact_merge_survivor", "workspace_id", "survivor_id"),
        Index("ix_contact_merge_merged", "workspace_id", "merged_id"),
    )

    workspace_id: Mapped[int] = _workspace_fk()
    id: Mapped[int] = id_column()
    survivor_id: Mapped[int] = mapped_column(BigInteger)
    merged_id: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(255))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    # {"identities": [ids], "accounts": [account ids], "fields": {name: value copied},
    #  "custom": {key: value copied}}
    moved: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = created_at_column()
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    undone_by: Mapped[int | None] = mapped_column(BigInteger)
    import_id: Mapped[int | None] = mapped_column(BigInteger)  # the import that merged, if one


class CustomField(Base):
    """A workspace's own field on contacts or accounts; values live in the record's ``custom``."""

    __tablename__ = "custom_field"
    __table_args__ = (
        UniqueConstraint("workspace_id", "object", "key", name="uq_custom_field_key"),
    )

    workspace_id: Mapped[int] = _workspace_fk()
    id: Mapped[int] = id_column()
    object: Mapped[str] = mapped_column(String(16))  # contact | account
    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(120))
    type: Mapped[str] = mapped_column(String(16))
    options: Mapped[list[str]] = mapped_column(JSONType, default=list)
    required: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = created_at_column()
