"""tags (groups, contact tags, tag rules), scoring (models, rules, the points ledger, materialised
contact scores), lifecycle (stages, stage changes) and segments (members, changes, timers)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 07:37:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "contact_score",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("model_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("engagement", sa.Float(), nullable=False),
        sa.Column("fit", sa.Float(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_contact_score_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "model_id", "contact_id", name=op.f("pk_contact_score")
        ),
    )
    with op.batch_alter_table("contact_score", schema=None) as batch_op:
        batch_op.create_index("ix_contact_score_model", ["workspace_id", "model_id"], unique=False)

    op.create_table(
        "contact_tag",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("tag_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("rule_id", sa.BigInteger(), nullable=True),
        sa.Column("added_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_contact_tag_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "contact_id", "tag_id", name=op.f("pk_contact_tag")
        ),
    )
    with op.batch_alter_table("contact_tag", schema=None) as batch_op:
        batch_op.create_index("ix_contact_tag_tag", ["workspace_id", "tag_id"], unique=False)

    op.create_table(
        "lifecycle_stage",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("entry_rule", JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_lifecycle_stage_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_lifecycle_stage")),
        sa.UniqueConstraint(
            "workspace_id", "key", name=op.f("uq_lifecycle_stage_workspace_id_key")
        ),
    )
    op.create_table(
        "score_model",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("decay", sa.String(length=16), nullable=False),
        sa.Column("decay_days", sa.Integer(), nullable=True),
        sa.Column("epoch", TS, nullable=False),
        sa.Column("weights", JSON, nullable=False),
        sa.Column("grades", JSON, nullable=False),
        sa.Column("rollup", sa.String(length=8), nullable=False),
        sa.Column("rollup_n", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("scored_version", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_score_model_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_score_model")),
    )
    op.create_table(
        "score_point",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("model_id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("earned_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_score_point_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_score_point")),
    )
    with op.batch_alter_table("score_point", schema=None) as batch_op:
        batch_op.create_index(
            "ix_score_point_contact",
            ["workspace_id", "contact_id", "model_id", "earned_at"],
            unique=False,
        )

    op.create_table(
        "score_rule",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("model_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=True),
        sa.Column("where", JSON, nullable=False),
        sa.Column("condition", JSON, nullable=True),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("cap", sa.Float(), nullable=True),
        sa.Column("cap_days", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_score_rule_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_score_rule")),
    )
    with op.batch_alter_table("score_rule", schema=None) as batch_op:
        batch_op.create_index("ix_score_rule_model", ["workspace_id", "model_id"], unique=False)

    op.create_table(
        "segment",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("condition", JSON, nullable=True),
        sa.Column("refers_to", JSON, nullable=False),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("rebuilt_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_segment_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_segment")),
    )
    op.create_table(
        "segment_change",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("segment_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("entered", sa.Boolean(), nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_segment_change_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_segment_change")),
    )
    with op.batch_alter_table("segment_change", schema=None) as batch_op:
        batch_op.create_index(
            "ix_segment_change_segment", ["workspace_id", "segment_id", "at"], unique=False
        )

    op.create_table(
        "segment_member",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("segment_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("since", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_segment_member_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "segment_id", "contact_id", name=op.f("pk_segment_member")
        ),
    )
    with op.batch_alter_table("segment_member", schema=None) as batch_op:
        batch_op.create_index(
            "ix_segment_member_contact", ["workspace_id", "contact_id"], unique=False
        )

    op.create_table(
        "segment_timer",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("segment_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_segment_timer_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "segment_id", "contact_id", name=op.f("pk_segment_timer")
        ),
    )
    with op.batch_alter_table("segment_timer", schema=None) as batch_op:
        batch_op.create_index("ix_segment_timer_due", ["due_at"], unique=False)

    op.create_table(
        "stage_change",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("from_stage", sa.String(length=32), nullable=True),
        sa.Column("to_stage", sa.String(length=32), nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.String(length=255), nullable=True),
        sa.Column("backward", sa.Boolean(), nullable=False),
        sa.Column("changed_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_stage_change_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_stage_change")),
    )
    with op.batch_alter_table("stage_change", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stage_change_contact", ["workspace_id", "contact_id", "changed_at"], unique=False
        )
        batch_op.create_index(
            "ix_stage_change_to", ["workspace_id", "to_stage", "changed_at"], unique=False
        )

    op.create_table(
        "tag",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("group_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("department_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_tag_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_tag")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_tag_workspace_id_name")),
    )
    op.create_table(
        "tag_group",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("exclusive", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_tag_group_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_tag_group")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_tag_group_workspace_id_name")),
    )
    op.create_table(
        "tag_rule",
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("tag_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("where", JSON, nullable=False),
        sa.Column("condition", JSON, nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_tag_rule_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_tag_rule")),
    )
    with op.batch_alter_table("tag_rule", schema=None) as batch_op:
        batch_op.create_index("ix_tag_rule_type", ["workspace_id", "event_type"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tag_rule", schema=None) as batch_op:
        batch_op.drop_index("ix_tag_rule_type")

    op.drop_table("tag_rule")
    op.drop_table("tag_group")
    op.drop_table("tag")
    with op.batch_alter_table("stage_change", schema=None) as batch_op:
        batch_op.drop_index("ix_stage_change_to")
        batch_op.drop_index("ix_stage_change_contact")

    op.drop_table("stage_change")
    with op.batch_alter_table("segment_timer", schema=None) as batch_op:
        batch_op.drop_index("ix_segment_timer_due")

    op.drop_table("segment_timer")
    with op.batch_alter_table("segment_member", schema=None) as batch_op:
        batch_op.drop_index("ix_segment_member_contact")

    op.drop_table("segment_member")
    with op.batch_alter_table("segment_change", schema=None) as batch_op:
        batch_op.drop_index("ix_segment_change_segment")

    op.drop_table("segment_change")
    op.drop_table("segment")
    with op.batch_alter_table("score_rule", schema=None) as batch_op:
        batch_op.drop_index("ix_score_rule_model")

    op.drop_table("score_rule")
    with op.batch_alter_table("score_point", schema=None) as batch_op:
        batch_op.drop_index("ix_score_point_contact")

    op.drop_table("score_point")
    op.drop_table("score_model")
    op.drop_table("lifecycle_stage")
    with op.batch_alter_table("contact_tag", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_tag_tag")

    op.drop_table("contact_tag")
    with op.batch_alter_table("contact_score", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_score_model")

    op.drop_table("contact_score")
