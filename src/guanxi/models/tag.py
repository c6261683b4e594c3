"""Tags (标签): groups, typed tags with a scope, who holds which tag and why, and the rules that
tag contacts automatically."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from guanxi.models.base import Base, JSONType, UTCDateTime, created_at_column, id_column


def _workspace() -> Mapped[int]:
    return mapped_column(
        BigInteger, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )


class TagGroup(Base):
    """A group of tags (意向度, 行业 …). In an ``exclusive`` group a contact holds at most one
    tag: adding one takes the others of the group away."""

    __tablename__ = "tag_group"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(80))
    exclusive: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = created_at_column()


class Tag(Base):
    """A tag, unique by name in its workspace. ``type``: basic (set by people), fact (from
    data), model (from rules and scores), predicted. ``department_id``: the department whose
    members may see and use it (its scope); none: the whole workspace."""

    __tablename__ = "tag"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    group_id: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(80))
    type: Mapped[str] = mapped_column(String(16), default="basic")
    department_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()


class ContactTag(Base):
    """A contact holds a tag: since when, set how (manual, bulk, api, import, rule, journey) and
    by whom or by which rule."""

    __tablename__ = "contact_tag"
    __table_args__ = (Index("ix_contact_tag_tag", "workspace_id", "tag_id"),)

    workspace_id: Mapped[int] = _workspace()
    contact_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tag_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    rule_id: Mapped[int | None] = mapped_column(BigInteger)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TagRule(Base):
    """Tag (or untag) a contact when an event of ``event_type`` matching ``where`` (property
    filters) arrives and the contact then matches ``condition`` (the condition language; none:
    anyone). A channel code rule and a content rule are event rules on ``qr_scan`` and
    ``content_view`` with the code or the content in ``where``."""

    __tablename__ = "tag_rule"
    __table_args__ = (Index("ix_tag_rule_type", "workspace_id", "event_type"),)

    workspace_id: Mapped[int] = _workspace()
    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(120))
    tag_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(8), default="add")  # add | remove
    trigger: Mapped[str] = mapped_column(String(16), default="event")  # event | code | content
    event_type: Mapped[str] = mapped_column(String(64))
    where: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    condition: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_at_column()
