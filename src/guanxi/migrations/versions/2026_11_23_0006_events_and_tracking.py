"""events and tracking: event partitioned by month on PostgreSQL, idempotency keys in their own
table, custom event types, attribution on contacts, tracking sites, forms, content and tracked
links

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 05:10:00
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = sa.DateTime(timezone=True)


def _event_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("origin_contact_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=120), nullable=True),
        sa.Column("properties", JSON, nullable=False),
    ]


def _month_partitions(conn: sa.Connection) -> None:
    """A partition for every month the old events fall in (new months are made on demand)."""
    months = conn.execute(
        sa.text(
            "SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC') FROM event_old"
        )
    ).scalars()
    for start in months:
        end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
        name = f"event_p{start.year:04d}{start.month:02d}"
        conn.execute(
            sa.text(
                f"CREATE TABLE {name} PARTITION OF event FOR VALUES FROM "
                f"('{start:%Y-%m-%d} 00:00:00+00') TO ('{end:%Y-%m-%d} 00:00:00+00')"
            )
        )


def upgrade() -> None:
    conn = op.get_bind()
    pg = conn.dialect.name == "postgresql"
    op.rename_table("event", "event_old")
    if pg:
        for index in ("ix_event_contact_time", "ix_event_type_time"):
            op.execute(f"ALTER INDEX {index} RENAME TO {index}_old")
    else:
        op.drop_index("ix_event_contact_time", table_name="event_old")
        op.drop_index("ix_event_type_time", table_name="event_old")
    op.create_table("event", *_event_columns(), postgresql_partition_by="RANGE (occurred_at)")
    op.create_index("ix_event_contact_time", "event", ["workspace_id", "contact_id", "occurred_at"])
    op.create_index("ix_event_type_time", "event", ["workspace_id", "type", "occurred_at"])
    op.create_index("ix_event_received", "event", ["workspace_id", "received_at"])
    op.create_table(
        "event_key",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "key", name=op.f("pk_event_key")),
    )
    if pg:
        _month_partitions(conn)
    names = "workspace_id, id, contact_id, origin_contact_id, type, occurred_at, received_at, channel, source, properties"
    op.execute(f"INSERT INTO event ({names}) SELECT {names} FROM event_old")  # noqa: S608
    keyed = conn.execute(
        sa.text(
            "SELECT workspace_id, idempotency_key, id, contact_id FROM event_old "
            "WHERE idempotency_key IS NOT NULL"
        )
    ).all()
    if keyed:
        table = sa.table(
            "event_key",
            sa.column("workspace_id", sa.BigInteger()),
            sa.column("key", sa.Uuid()),
            sa.column("event_id", sa.BigInteger()),
            sa.column("contact_id", sa.BigInteger()),
        )
        op.bulk_insert(
            table,
            [
                {
                    "workspace_id": ws,
                    "key": uuid.UUID(bytes=hashlib.blake2b(key.encode(), digest_size=16).digest()),
                    "event_id": event_id,
                    "contact_id": contact_id,
                }
                for ws, key, event_id, contact_id in keyed
            ],
        )
    op.drop_table("event_old")

    op.add_column("contact", sa.Column("first_touch", JSON, nullable=True))
    op.add_column("contact", sa.Column("last_touch", JSON, nullable=True))
    op.create_table(
        "event_type",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("properties", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_event_type_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "name", name=op.f("pk_event_type")),
    )
    op.create_table(
        "tracking_site",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("site_key", sa.String(length=32), nullable=False),
        sa.Column("allowed_origins", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_tracking_site_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_tracking_site")),
        sa.UniqueConstraint("site_key", name=op.f("uq_tracking_site_site_key")),
    )
    op.create_table(
        "form",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("public_key", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_form_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_form")),
        sa.UniqueConstraint("public_key", name=op.f("uq_form_public_key")),
    )
    op.create_table(
        "form_submission",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("form_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("values", JSON, nullable=False),
        sa.Column("context", JSON, nullable=False),
        sa.Column("ip_hash", sa.String(length=32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_form_submission")),
    )
    op.create_index(
        "ix_form_submission_form", "form_submission", ["workspace_id", "form_id", "created_at"]
    )
    op.create_index(
        "ix_form_submission_ip", "form_submission", ["workspace_id", "ip_hash", "created_at"]
    )
    op.create_table(
        "content",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_content_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_content")),
    )
    op.create_table(
        "tracked_link",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("content_id", sa.BigInteger(), nullable=False),
        sa.Column("sender_id", sa.BigInteger(), nullable=True),
        sa.Column("recipient_id", sa.BigInteger(), nullable=True),
        sa.Column("channel_code", sa.String(length=64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_tracked_link")),
        sa.UniqueConstraint("code", name=op.f("uq_tracked_link_code")),
    )
    op.create_index(
        "ix_tracked_link_content", "tracked_link", ["workspace_id", "content_id", "sender_id"]
    )


def downgrade() -> None:
    """Back to one plain ``event`` table. Idempotency keys were kept only as hashes: the old
    table gets its events without them (a retry of an old event would be stored again)."""
    for index in ("ix_tracked_link_content",):
        op.drop_index(index, table_name="tracked_link")
    op.drop_table("tracked_link")
    op.drop_table("content")
    op.drop_index("ix_form_submission_ip", table_name="form_submission")
    op.drop_index("ix_form_submission_form", table_name="form_submission")
    op.drop_table("form_submission")
    op.drop_table("form")
    op.drop_table("tracking_site")
    op.drop_table("event_type")
    with op.batch_alter_table("contact") as batch:
        batch.drop_column("last_touch")
        batch.drop_column("first_touch")
    op.rename_table("event", "event_new")
    if op.get_bind().dialect.name == "postgresql":
        for index in ("ix_event_contact_time", "ix_event_type_time", "ix_event_received"):
            op.execute(f"ALTER INDEX {index} RENAME TO {index}_new")
    else:
        for index in ("ix_event_contact_time", "ix_event_type_time", "ix_event_received"):
            op.drop_index(index, table_name="event_new")
    op.create_table(
        "event",
        *_event_columns(),
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
    op.create_index("ix_event_contact_time", "event", ["workspace_id", "contact_id", "occurred_at"])
    op.create_index("ix_event_type_time", "event", ["workspace_id", "type", "occurred_at"])
    names = "workspace_id, id, contact_id, origin_contact_id, type, occurred_at, received_at, channel, source, properties"
    op.execute(f"INSERT INTO event ({names}) SELECT {names} FROM event_new")  # noqa: S608
    op.drop_table("event_new")  # its partitions go with it
    op.drop_table("event_key")
