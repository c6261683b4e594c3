"""imports: identity for bulk loads (no redundant workspace foreign key, byte-order text on
PostgreSQL); links and merges remember the import that made them, so a cancel can undo them

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 02:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("kind", 32), ("namespace", 64), ("value", 255))


def upgrade() -> None:
    op.add_column("contact_account", sa.Column("import_id", sa.BigInteger(), nullable=True))
    op.add_column("contact_merge", sa.Column("import_id", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("identity") as batch:
        batch.drop_constraint("fk_identity_workspace_id_workspace", type_="foreignkey")
    if op.get_bind().dialect.name == "postgresql":
        for name, length in COLUMNS:
            op.alter_column(
                "identity",
                name,
                type_=sa.String(length, collation="C"),
                existing_type=sa.String(length),
                existing_nullable=False,
            )


def downgrade() -> None:
    with op.batch_alter_table("contact_merge") as batch:
        batch.drop_column("import_id")
    with op.batch_alter_table("contact_account") as batch:
        batch.drop_column("import_id")
    if op.get_bind().dialect.name == "postgresql":
        for name, length in COLUMNS:
            op.alter_column(
                "identity",
                name,
                type_=sa.String(length),
                existing_type=sa.String(length, collation="C"),
                existing_nullable=False,
            )
    with op.batch_alter_table("identity") as batch:
        batch.create_foreign_key(
            "fk_identity_workspace_id_workspace",
            "workspace",
            ["workspace_id"],
            ["id"],
            ondelete="CASCADE",
        )
