"""customer data: contacts, identities, consent, merges, custom fields, accounts, events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 00:47:34.690647
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=True),
        sa.Column("industry", sa.String(length=80), nullable=True),
        sa.Column("size", sa.String(length=32), nullable=True),
        sa.Column("revenue", sa.Numeric(precision=18, scale=2, asdecimal=False), nullable=True),
        sa.Column("region", sa.String(length=80), nullable=True),
        sa.Column("tier", sa.String(length=8), nullable=True),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "custom",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_account_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_account")),
    )
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.create_index("ix_account_ws_domain", ["workspace_id", "domain"], unique=False)
        batch_op.create_index("ix_account_ws_name_key", ["workspace_id", "name_key"], unique=False)
        batch_op.create_index("ix_account_ws_owner", ["workspace_id", "owner_id"], unique=False)

    op.create_table(
        "contact",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=True),
        sa.Column("name_key", sa.String(length=120), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=True),
        sa.Column("gender", sa.String(length=8), nullable=True),
        sa.Column("city", sa.String(length=80), nullable=True),
        sa.Column("province", sa.String(length=80), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=120), nullable=True),
        sa.Column("stage", sa.String(length=32), nullable=True),
        sa.Column(
            "custom",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("merged_into_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_contact_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_contact")),
    )
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contact_ws_merged_into",
            ["workspace_id", "merged_into_id"],
            unique=False,
            postgresql_where=sa.text("merged_into_id IS NOT NULL"),
            sqlite_where=sa.text("merged_into_id IS NOT NULL"),
        )
        batch_op.create_index("ix_contact_ws_name", ["workspace_id", "name_key"], unique=False)
        batch_op.create_index(
            "ix_contact_ws_owner",
            ["workspace_id", "owner_id"],
            unique=False,
            postgresql_where=sa.text("owner_id IS NOT NULL"),
            sqlite_where=sa.text("owner_id IS NOT NULL"),
        )
        batch_op.create_index("ix_contact_ws_updated", ["workspace_id", "updated_at"], unique=False)

    op.create_table(
        "contact_merge",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("survivor_id", sa.BigInteger(), nullable=False),
        sa.Column("merged_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "moved",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_contact_merge_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_contact_merge")),
    )
    with op.batch_alter_table("contact_merge", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contact_merge_survivor", ["workspace_id", "survivor_id"], unique=False
        )
        batch_op.create_index(
            "ix_contact_merge_merged", ["workspace_id", "merged_id"], unique=False
        )

    op.create_table(
        "custom_field",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("object", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column(
            "options",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_custom_field_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_custom_field")),
        sa.UniqueConstraint("workspace_id", "object", "key", name="uq_custom_field_key"),
    )
    op.create_table(
        "event",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("origin_contact_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=120), nullable=True),
        sa.Column(
            "properties",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_event_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_event")),
        sa.UniqueConstraint("workspace_id", "idempotency_key", name="uq_event_idempotency"),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_event_contact_time", ["workspace_id", "contact_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            "ix_event_type_time", ["workspace_id", "type", "occurred_at"], unique=False
        )

    op.create_table(
        "contact_account",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=True),
        sa.Column("reports_to_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "account_id"],
            ["account.workspace_id", "account.id"],
            name="fk_contact_account_account",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "contact_id"],
            ["contact.workspace_id", "contact.id"],
            name="fk_contact_account_contact",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "contact_id", "account_id", name=op.f("pk_contact_account")
        ),
    )
    with op.batch_alter_table("contact_account", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contact_account_account", ["workspace_id", "account_id"], unique=False
        )

    op.create_table(
        "contact_consent",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "contact_id"],
            ["contact.workspace_id", "contact.id"],
            name="fk_contact_consent_contact",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_contact_consent_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "contact_id", "channel", name=op.f("pk_contact_consent")
        ),
    )
    op.create_table(
        "identity",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "contact_id"],
            ["contact.workspace_id", "contact.id"],
            name="fk_identity_contact",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_identity_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_identity")),
        sa.UniqueConstraint("workspace_id", "kind", "namespace", "value", name="uq_identity_value"),
    )
    with op.batch_alter_table("identity", schema=None) as batch_op:
        batch_op.create_index("ix_identity_contact", ["workspace_id", "contact_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("identity", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_contact")

    op.drop_table("identity")
    op.drop_table("contact_consent")
    with op.batch_alter_table("contact_account", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_account_account")

    op.drop_table("contact_account")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index("ix_event_type_time")
        batch_op.drop_index("ix_event_contact_time")

    op.drop_table("event")
    op.drop_table("custom_field")
    with op.batch_alter_table("contact_merge", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_merge_merged")
        batch_op.drop_index("ix_contact_merge_survivor")

    op.drop_table("contact_merge")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_ws_updated")
        batch_op.drop_index("ix_contact_ws_owner")
        batch_op.drop_index("ix_contact_ws_name")
        batch_op.drop_index("ix_contact_ws_merged_into")

    op.drop_table("contact")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_index("ix_account_ws_owner")
        batch_op.drop_index("ix_account_ws_name_key")
        batch_op.drop_index("ix_account_ws_domain")

    op.drop_table("account")
