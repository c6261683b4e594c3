"""Auto-tag rules as people define them: on an event (with property filters), a channel code
scan or a content view, with an optional condition on the contact; add or remove a tag. The
reactor that applies them is ``tag.rules``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, select
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.content import service as content
from guanxi.errors import NotFound, ValidationFailed
from guanxi.event import types as event_types
from guanxi.i18n import N_, Message
from guanxi.kit.pagination import SortSpec, paginate
from guanxi.models import Tag, TagRule
from guanxi.segment.service import checked
from guanxi.tag.schemas import TagRuleIn
from guanxi.tag.service import get_tag, usable

# a channel-code rule is a rule on the scan, a content rule one on the view
TRIGGER_EVENTS = {"code": ("qr_scan", "channel_code"), "content": ("content_view", "content_id")}


class InvalidRule(ValidationFailed):
    code = "invalid_tag_rule"
    message = N_("The tag rule cannot be used: {reason}")


def rule_target(rule: TagRule) -> tuple[str | None, str | None]:
    """(channel code, content id) a code or content rule watches for."""
    if rule.trigger in TRIGGER_EVENTS and rule.where:
        value = str(rule.where[0].get("value"))
        return (value, None) if rule.trigger == "code" else (None, value)
    return None, None


RULE_SORT = SortSpec(
    fields={"created_at": TagRule.created_at, "name": TagRule.name},
    tiebreak=TagRule.id,
    default="-created_at",
)


def list_rules(
    session: Session,
    actor: Principal,
    *,
    tag_id: int | None,
    sort: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Row[Any]], str | None]:
    actor.require("tags:read")
    stmt = (
        select(TagRule)
        .join(Tag, and_(Tag.workspace_id == TagRule.workspace_id, Tag.id == TagRule.tag_id))
        .where(TagRule.workspace_id == actor.workspace_id, usable(session, actor))
    )
    if tag_id is not None:
        stmt = stmt.where(TagRule.tag_id == tag_id)
    return paginate(session, stmt, RULE_SORT, sort=sort, limit=limit, cursor=cursor)


def get_rule(session: Session, actor: Principal, rule_id: int) -> TagRule:
    actor.require("tags:read")
    rule = session.get(TagRule, (actor.workspace_id, rule_id))
    if rule is None:
        raise NotFound(resource=N_("Tag rule"))
    get_tag(session, actor, rule.tag_id)  # a rule of a tag out of scope is out of scope
    return rule


def _definition(session: Session, actor: Principal, data: TagRuleIn) -> dict[str, Any]:
    """The rule's columns from its definition, checked against the workspace."""
    get_tag(session, actor, data.tag_id)
    ws = actor.workspace_id
    if data.trigger == "event":
        event_type = data.event_type or ""
        if not event_types.specs(session, ws, [event_type]):
            raise InvalidRule(reason=Message(N_("unknown event type {type}"), type=event_type))
        where = [f.model_dump(mode="json") for f in data.where]
    else:
        event_type, prop = TRIGGER_EVENTS[data.trigger]
        if data.content_id is not None:
            content.get(session, actor, data.content_id)
        value = data.code if data.trigger == "code" else str(data.content_id)
        where = [{"property": prop, "op": "eq", "value": value}]
    condition = None
    if data.condition is not None:
        checked(session, ws, data.condition)
        condition = data.condition.model_dump(mode="json")
    return {
        "name": data.name,
        "tag_id": data.tag_id,
        "action": data.action,
        "trigger": data.trigger,
        "event_type": event_type,
        "where": where,
        "condition": condition,
        "enabled": data.enabled,
    }


def create_rule(session: Session, actor: Principal, data: TagRuleIn, now: datetime) -> TagRule:
    actor.require("tags:write")
    rule = TagRule(
        workspace_id=actor.workspace_id, created_at=now, **_definition(session, actor, data)
    )
    session.add(rule)
    session.flush()
    return rule


def definition_of(rule: TagRule) -> dict[str, Any]:
    """A stored rule as the definition it was made from (``TagRuleIn``'s fields)."""
    found: dict[str, Any] = {
        "name": rule.name,
        "tag_id": rule.tag_id,
        "action": rule.action,
        "trigger": rule.trigger,
        "condition": rule.condition,
        "enabled": rule.enabled,
    }
    code, content_id = rule_target(rule)
    if rule.trigger == "event":
        found |= {"event_type": rule.event_type, "where": rule.where or []}
    elif rule.trigger == "code":
        found["code"] = code
    else:
        found["content_id"] = content_id
    return found


def update_rule(
    session: Session, actor: Principal, rule_id: int, changes: dict[str, Any]
) -> TagRule:
    """Change any part of a rule's definition (a pydantic ``ValidationError`` when the result
    is not a rule); it applies to events from now on."""
    actor.require("tags:write")
    rule = get_rule(session, actor, rule_id)
    current = definition_of(rule)
    if "trigger" in changes:
        for name in ("event_type", "where", "code", "content_id"):
            current.pop(name, None)
    data = TagRuleIn.model_validate({**current, **changes})
    for name, value in _definition(session, actor, data).items():
        setattr(rule, name, value)
    session.flush()
    return rule


def delete_rule(session: Session, actor: Principal, rule_id: int) -> None:
    """The rule goes; the tags it gave stay (with its id as their cause)."""
    actor.require("tags:write")
    rule = get_rule(session, actor, rule_id)
    session.delete(rule)
    session.flush()
