"""Routes for tags: groups, tags with holder counts, who holds a tag (and bulk tagging), a
contact's tags, and auto-tag rules."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from guanxi.contact.schemas import ContactOut
from guanxi.http.deps import DB, Actor, Listing
from guanxi.http.errors import errors
from guanxi.kit.clock import utcnow
from guanxi.kit.page import Page
from guanxi.kit.schema import Id
from guanxi.models import Tag, TagRule
from guanxi.tag import automation, service
from guanxi.tag.schemas import (
    BulkIn,
    BulkOut,
    ContactTagsIn,
    HoldingOut,
    TagGroupIn,
    TagGroupOut,
    TagGroupPatch,
    TagIn,
    TagOut,
    TagPatch,
    TagRuleIn,
    TagRuleOut,
    TagRulePatch,
    TagType,
)

router = APIRouter(tags=["tags"])


def tag_out(tag: Tag, contacts: int = 0) -> TagOut:
    return TagOut.model_validate(tag).model_copy(update={"contacts": contacts})


def rule_out(rule: TagRule) -> TagRuleOut:
    code, content_id = automation.rule_target(rule)
    return TagRuleOut(
        id=rule.id,
        name=rule.name,
        tag_id=rule.tag_id,
        action=rule.action,
        trigger=rule.trigger,
        event_type=rule.event_type,
        where=rule.where or [],
        code=code,
        content_id=int(content_id) if content_id else None,
        condition=rule.condition,
        enabled=rule.enabled,
        created_at=rule.created_at,
    )


# -- groups ----------------------------------------------------------------------------------


@router.get("/tag-groups", response_model=Page[TagGroupOut])
def list_groups(actor: Actor, session: DB) -> Page[TagGroupOut]:
    """Every tag group, by name (a workspace has tens, not thousands: one page)."""
    items = [TagGroupOut.model_validate(g) for g in service.list_groups(session, actor)]
    return Page(items=items, next_cursor=None)


@router.post("/tag-groups", response_model=TagGroupOut, status_code=201, responses=errors(409))
def create_group(data: TagGroupIn, actor: Actor, session: DB) -> TagGroupOut:
    """A group of tags (意向度, 行业 …). ``exclusive``: a contact holds at most one of its tags;
    adding one takes the others away. A name is unique in the workspace (409
    ``already_exists``)."""
    return TagGroupOut.model_validate(service.create_group(session, actor, data, utcnow()))


@router.get("/tag-groups/{tag_group_id}", response_model=TagGroupOut)
def get_group(tag_group_id: Id, actor: Actor, session: DB) -> TagGroupOut:
    return TagGroupOut.model_validate(service.get_group(session, actor, tag_group_id))


@router.patch("/tag-groups/{tag_group_id}", response_model=TagGroupOut, responses=errors(409))
def update_group(tag_group_id: Id, data: TagGroupPatch, actor: Actor, session: DB) -> TagGroupOut:
    return TagGroupOut.model_validate(
        service.update_group(session, actor, tag_group_id, data.changes())
    )


@router.delete("/tag-groups/{tag_group_id}", status_code=204, responses=errors(409))
def delete_group(tag_group_id: Id, actor: Actor, session: DB) -> Response:
    """Delete an empty group (409 ``in_use`` while tags are in it)."""
    service.delete_group(session, actor, tag_group_id)
    return Response(status_code=204)


# -- tags ------------------------------------------------------------------------------------


@router.get("/tags", response_model=Page[TagOut])
def list_tags(
    actor: Actor,
    session: DB,
    listing: Listing,
    group_id: Annotated[Id | None, Query()] = None,
    type: Annotated[TagType | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=80, description="Part of the name.")] = None,
) -> Page[TagOut]:
    """Tags you may use, with how many contacts (of those you may see) hold each. Sort by
    ``name`` (default) or ``created_at``."""
    rows, cursor = service.list_tags(
        session,
        actor,
        group_id=group_id,
        type=type,
        q=q,
        sort=listing.sort,
        limit=listing.limit,
        cursor=listing.cursor,
    )
    return Page(items=[tag_out(r.Tag, r.contacts) for r in rows], next_cursor=cursor)


@router.post("/tags", response_model=TagOut, status_code=201, responses=errors(404, 409))
def create_tag(data: TagIn, actor: Actor, session: DB) -> TagOut:
    """A tag, unique by name in the workspace (409 ``already_exists``), in a group or none,
    typed (basic: set by people; fact: from data; model: from rules and scores; predicted),
    for everyone or one department (``department_id``)."""
    return tag_out(service.create_tag(session, actor, data, utcnow()))


@router.get("/tags/{tag_id}", response_model=TagOut)
def get_tag(tag_id: Id, actor: Actor, session: DB) -> TagOut:
    tag = service.get_tag(session, actor, tag_id)
    return tag_out(tag, service.holder_count(session, actor, tag.id))


@router.patch("/tags/{tag_id}", response_model=TagOut, responses=errors(409))
def update_tag(tag_id: Id, data: TagPatch, actor: Actor, session: DB) -> TagOut:
    """Rename, retype, move to another group (``null``: none) or scope."""
    tag = service.update_tag(session, actor, tag_id, data.changes())
    return tag_out(tag, service.holder_count(session, actor, tag.id))


@router.delete("/tags/{tag_id}", status_code=204)
def delete_tag(tag_id: Id, actor: Actor, session: DB) -> Response:
    """Delete a tag: every holder loses it (``tag_removed`` on their timelines) and its rules
    are deleted."""
    service.delete_tag(session, actor, tag_id, utcnow())
    return Response(status_code=204)


@router.get("/tags/{tag_id}/contacts", response_model=Page[ContactOut])
def tag_holders(tag_id: Id, actor: Actor, session: DB, listing: Listing) -> Page[ContactOut]:
    """The contacts (of those you may see) holding the tag, most recently tagged first."""
    rows, cursor = service.holders(
        session, actor, tag_id, limit=listing.limit, cursor=listing.cursor
    )
    return Page(items=[ContactOut.model_validate(r.Contact) for r in rows], next_cursor=cursor)


@router.post("/tags/{tag_id}/contacts", response_model=BulkOut, responses=errors(422))
def bulk_tag(tag_id: Id, data: BulkIn, actor: Actor, session: DB) -> BulkOut:
    """Add the tag to (``action: remove``: take it from) up to 10,000 contacts by id, or every
    contact matching a ``condition`` (the condition language, as in ``/segments/preview``;
    422 ``invalid_condition``). Contacts you may not write, merged ones and unknown ids are
    skipped; ``matched`` says how many were taken, ``changed`` how many gained (lost) it."""
    matched, changed = service.bulk(session, actor, tag_id, data, utcnow())
    return BulkOut(matched=matched, changed=changed)


@router.get("/contacts/{contact_id}/tags", response_model=Page[HoldingOut])
def contact_tags(contact_id: Id, actor: Actor, session: DB) -> Page[HoldingOut]:
    """The contact's tags: since when, set how (manual, bulk, rule …), by whom or which rule."""
    rows = service.contact_tags(session, actor, contact_id)
    items = [
        HoldingOut(
            tag=tag_out(r.Tag),
            source=r.ContactTag.source,
            actor_id=r.ContactTag.actor_id,
            rule_id=r.ContactTag.rule_id,
            added_at=r.ContactTag.added_at,
        )
        for r in rows
    ]
    return Page(items=items, next_cursor=None)


@router.post("/contacts/{contact_id}/tags", response_model=Page[HoldingOut])
def tag_contact(contact_id: Id, data: ContactTagsIn, actor: Actor, session: DB) -> Page[HoldingOut]:
    """Give the contact these tags (held ones are kept as they are; in an exclusive group the
    contact's other tag goes). Answers with the contact's tags."""
    service.tag_contact(session, actor, contact_id, data.tag_ids, utcnow(), source="api")
    return contact_tags(contact_id, actor, session)


@router.delete("/contacts/{contact_id}/tags/{tag_id}", status_code=204)
def untag_contact(contact_id: Id, tag_id: Id, actor: Actor, session: DB) -> Response:
    service.untag_contact(session, actor, contact_id, tag_id, utcnow())
    return Response(status_code=204)


# -- rules -----------------------------------------------------------------------------------


@router.get("/tag-rules", response_model=Page[TagRuleOut])
def list_rules(
    actor: Actor, session: DB, listing: Listing, tag_id: Annotated[Id | None, Query()] = None
) -> Page[TagRuleOut]:
    rows, cursor = automation.list_rules(
        session, actor, tag_id=tag_id, sort=listing.sort, limit=listing.limit, cursor=listing.cursor
    )
    return Page(items=[rule_out(r.TagRule) for r in rows], next_cursor=cursor)


@router.post("/tag-rules", response_model=TagRuleOut, status_code=201, responses=errors(404, 422))
def create_rule(data: TagRuleIn, actor: Actor, session: DB) -> TagRuleOut:
    """Tag (or untag) a contact automatically when an event arrives: ``trigger: event`` with
    ``event_type`` and ``where`` property filters; ``code`` (a scan of a channel code);
    ``content`` (a view of a content). An optional ``condition`` (the condition language) must
    hold for the contact too. Unknown event types are 422 ``invalid_tag_rule``, bad conditions
    422 ``invalid_condition``."""
    return rule_out(automation.create_rule(session, actor, data, utcnow()))


@router.get("/tag-rules/{tag_rule_id}", response_model=TagRuleOut)
def get_rule(tag_rule_id: Id, actor: Actor, session: DB) -> TagRuleOut:
    return rule_out(automation.get_rule(session, actor, tag_rule_id))


@router.patch("/tag-rules/{tag_rule_id}", response_model=TagRuleOut, responses=errors(422))
def update_rule(tag_rule_id: Id, data: TagRulePatch, actor: Actor, session: DB) -> TagRuleOut:
    """Change any part of a rule — rename, enable or disable it, or redefine it (changing
    ``trigger`` drops the old trigger's fields). It applies to events from now on."""
    try:
        rule = automation.update_rule(session, actor, tag_rule_id, data.changes())
    except ValidationError as exc:  # the merged definition is not a rule
        raise RequestValidationError(exc.errors(include_url=False)) from exc
    return rule_out(rule)


@router.delete("/tag-rules/{tag_rule_id}", status_code=204)
def delete_rule(tag_rule_id: Id, actor: Actor, session: DB) -> Response:
    """Delete a rule; the tags it gave stay."""
    automation.delete_rule(session, actor, tag_rule_id)
    return Response(status_code=204)
