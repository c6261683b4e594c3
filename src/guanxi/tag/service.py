"""Tags: groups, tags, who holds them, manual and bulk tagging, and the auto-tag rules'
definitions (``tag.rules`` applies them as events arrive).

Scope: a tag with a ``department_id`` is seen and used only by members of that department or of
a department below it, and by administrators and members with a data scope of all; to everyone
else it does not exist (404), and it is left out of lists and of a contact's tags. Shaping tags,
groups and rules needs ``tags:write``; tagging a contact needs ``contacts:write`` on that
contact (its data scope).

Every holding gained or lost is a ``tag_added``/``tag_removed`` event on the contact's timeline,
stored through ``event.service.store`` — once per call, or once per 1,000 contacts in bulk — so
the rest of the pipeline (rules on ``tag_added``, scoring, segments) sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, delete, func, or_, select, true
from sqlalchemy.orm import Session

from guanxi.auth.permissions import DataScope
from guanxi.auth.principal import Principal
from guanxi.contact import service as contacts
from guanxi.errors import AlreadyExists, Conflict, InUse, NotFound
from guanxi.event import service as events
from guanxi.event.records import Draft
from guanxi.i18n import N_
from guanxi.kit.pagination import SortSpec, paginate
from guanxi.models import Contact, ContactTag, Department, Tag, TagGroup, TagRule
from guanxi.segment import references
from guanxi.segment.service import checked
from guanxi.segment.sql import compile_sql
from guanxi.tag import holdings
from guanxi.tag.holdings import CHUNK, Wanted
from guanxi.tag.schemas import BulkIn, TagGroupIn, TagIn

# -- scope -----------------------------------------------------------------------------------


def _ancestors(session: Session, workspace_id: int, department_id: int | None) -> set[int]:
    """The department and those above it: the scopes whose tags its members may use."""
    if department_id is None:
        return set()
    parent: dict[int, int | None] = {
        d: p
        for d, p in session.execute(
            select(Department.id, Department.parent_id).where(
                Department.workspace_id == workspace_id
            )
        )
    }
    found: set[int] = set()
    current: int | None = department_id
    while current is not None and current not in found:
        found.add(current)
        current = parent.get(current)
    return found


def usable(session: Session, actor: Principal) -> ColumnElement[bool]:
    """Tags ``actor`` may see and use (see the module's docstring)."""
    if actor.is_admin or actor.data_scope == DataScope.all:
        return true()
    scopes = _ancestors(session, actor.workspace_id, actor.department_id)
    return or_(Tag.department_id.is_(None), Tag.department_id.in_(sorted(scopes)))


def _department(session: Session, workspace_id: int, department_id: int | None) -> None:
    if department_id is not None and session.get(Department, (workspace_id, department_id)) is None:
        raise NotFound(resource=N_("Department"))


# -- groups ----------------------------------------------------------------------------------


def list_groups(session: Session, actor: Principal) -> Sequence[TagGroup]:
    actor.require("tags:read")
    return session.scalars(
        select(TagGroup)
        .where(TagGroup.workspace_id == actor.workspace_id)
        .order_by(TagGroup.name, TagGroup.id)
    ).all()


def get_group(session: Session, actor: Principal, group_id: int) -> TagGroup:
    actor.require("tags:read")
    group = session.get(TagGroup, (actor.workspace_id, group_id))
    if group is None:
        raise NotFound(resource=N_("Tag group"))
    return group


def _group_name_free(session: Session, workspace_id: int, name: str, but: int | None) -> None:
    stmt = select(TagGroup.id).where(TagGroup.workspace_id == workspace_id, TagGroup.name == name)
    if but is not None:
        stmt = stmt.where(TagGroup.id != but)
    if session.scalar(stmt) is not None:
        raise AlreadyExists(resource=N_("Tag group"))


def create_group(session: Session, actor: Principal, data: TagGroupIn, now: datetime) -> TagGroup:
    actor.require("tags:write")
    _group_name_free(session, actor.workspace_id, data.name, None)
    group = TagGroup(
        workspace_id=actor.workspace_id, name=data.name, exclusive=data.exclusive, created_at=now
    )
    session.add(group)
    session.flush()
    return group


def update_group(
    session: Session, actor: Principal, group_id: int, changes: dict[str, Any]
) -> TagGroup:
    """Rename, or make exclusive: contacts already holding several of its tags keep them
    until one of the group's tags is added again."""
    actor.require("tags:write")
    group = get_group(session, actor, group_id)
    if "name" in changes:
        _group_name_free(session, actor.workspace_id, changes["name"], group.id)
    for name, value in changes.items():
        setattr(group, name, value)
    session.flush()
    return group


def delete_group(session: Session, actor: Principal, group_id: int) -> None:
    """Refused (409 ``in_use``) while tags are in it: move or delete them first."""
    actor.require("tags:write")
    group = get_group(session, actor, group_id)
    used = session.scalar(
        select(func.count())
        .select_from(Tag)
        .where(Tag.workspace_id == actor.workspace_id, Tag.group_id == group.id)
    )
    if used:
        raise InUse(resource=N_("Tag group"))
    session.delete(group)
    session.flush()


# -- tags ------------------------------------------------------------------------------------


def _holders(session: Session, actor: Principal) -> Any:
    """How many active contacts ``actor`` may see hold the tag of the outer row."""
    return (
        select(func.count())
        .select_from(ContactTag)
        .join(
            Contact,
            and_(
                Contact.workspace_id == ContactTag.workspace_id, Contact.id == ContactTag.contact_id
            ),
        )
        .where(
            ContactTag.workspace_id == actor.workspace_id,
            ContactTag.tag_id == Tag.id,
            Contact.status == "active",
            contacts.visible(session, actor),
        )
        .correlate(Tag)
        .scalar_subquery()
    )


TAG_SORT = SortSpec(
    fields={"name": Tag.name, "created_at": Tag.created_at}, tiebreak=Tag.id, default="name"
)


def list_tags(
    session: Session,
    actor: Principal,
    *,
    group_id: int | None,
    type: str | None,
    q: str | None,
    sort: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Row[Any]], str | None]:
    """Tags ``actor`` may use, each with its holder count (rows of ``Tag``, ``contacts``)."""
    actor.require("tags:read")
    stmt = select(Tag, _holders(session, actor).label("contacts")).where(
        Tag.workspace_id == actor.workspace_id, usable(session, actor)
    )
    if group_id is not None:
        stmt = stmt.where(Tag.group_id == group_id)
    if type is not None:
        stmt = stmt.where(Tag.type == type)
    if q:
        stmt = stmt.where(Tag.name.contains(q.strip(), autoescape=True))
    return paginate(session, stmt, TAG_SORT, sort=sort, limit=limit, cursor=cursor)


def get_tag(session: Session, actor: Principal, tag_id: int) -> Tag:
    actor.require("tags:read")
    tag = session.scalar(
        select(Tag).where(
            Tag.workspace_id == actor.workspace_id, Tag.id == tag_id, usable(session, actor)
        )
    )
    if tag is None:
        raise NotFound(resource=N_("Tag"))
    return tag


def holder_count(session: Session, actor: Principal, tag_id: int) -> int:
    tag = get_tag(session, actor, tag_id)
    stmt = (
        select(_holders(session, actor))
        .select_from(Tag)
        .where(Tag.workspace_id == actor.workspace_id, Tag.id == tag.id)
    )
    return int(session.scalar(stmt) or 0)


def _tag_name_free(session: Session, workspace_id: int, name: str, but: int | None) -> None:
    stmt = select(Tag.id).where(Tag.workspace_id == workspace_id, Tag.name == name)
    if but is not None:
        stmt = stmt.where(Tag.id != but)
    if session.scalar(stmt) is not None:
        raise AlreadyExists(resource=N_("Tag"))


def create_tag(session: Session, actor: Principal, data: TagIn, now: datetime) -> Tag:
    actor.require("tags:write")
    if data.group_id is not None:
        get_group(session, actor, data.group_id)
    _department(session, actor.workspace_id, data.department_id)
    _tag_name_free(session, actor.workspace_id, data.name, None)
    tag = Tag(workspace_id=actor.workspace_id, created_at=now, **data.model_dump())
    session.add(tag)
    session.flush()
    return tag


def update_tag(session: Session, actor: Principal, tag_id: int, changes: dict[str, Any]) -> Tag:
    """Rename, retype, move to another group (or none) or another scope. Moving into an
    exclusive group leaves holdings as they are until one of the group's tags is added."""
    actor.require("tags:write")
    tag = get_tag(session, actor, tag_id)
    if changes.get("group_id") is not None:
        get_group(session, actor, changes["group_id"])
    if "department_id" in changes:
        _department(session, actor.workspace_id, changes["department_id"])
    if "name" in changes:
        _tag_name_free(session, actor.workspace_id, changes["name"], tag.id)
    for name, value in changes.items():
        setattr(tag, name, value)
    session.flush()
    return tag


class TagInUse(Conflict):
    code = "tag_in_use"
    message = N_("{name} reads this tag in its condition: change that first.")


def delete_tag(session: Session, actor: Principal, tag_id: int, now: datetime) -> None:
    """Take the tag from everyone (a ``tag_removed`` event on each active holder's timeline),
    delete its rules, then the tag."""
    actor.require("tags:write")
    tag = get_tag(session, actor, tag_id)
    ws = actor.workspace_id
    user = references.user_of(session, ws, "tag", tag.id)
    if user is not None:
        raise TagInUse(name=user)
    after = 0
    while True:
        part = session.scalars(
            select(ContactTag.contact_id)
            .join(
                Contact,
                and_(
                    Contact.workspace_id == ContactTag.workspace_id,
                    Contact.id == ContactTag.contact_id,
                ),
            )
            .where(
                ContactTag.workspace_id == ws,
                ContactTag.tag_id == tag.id,
                Contact.status == "active",
                ContactTag.contact_id > after,
            )
            .order_by(ContactTag.contact_id)
            .limit(CHUNK)
        ).all()
        if not part:
            break
        _store(session, ws, [Wanted(c, tag.id, False) for c in part], "manual", actor, now)
        after = part[-1]
    session.execute(  # merged contacts' holdings go without an event
        delete(ContactTag).where(ContactTag.workspace_id == ws, ContactTag.tag_id == tag.id)
    )
    session.execute(delete(TagRule).where(TagRule.workspace_id == ws, TagRule.tag_id == tag.id))
    session.delete(tag)
    session.flush()


# -- holdings --------------------------------------------------------------------------------


def _store(
    session: Session,
    workspace_id: int,
    wanted: Sequence[Wanted],
    source: str,
    actor: Principal,
    now: datetime,
) -> list[Draft]:
    drafts = holdings.change(
        session, workspace_id, wanted, source=source, actor_id=actor.user_id, now=now
    )
    if drafts:
        events.store(session, workspace_id, drafts, now)
    return drafts


def contact_tags(
    session: Session, actor: Principal, contact_id: int
) -> Sequence[Row[ContactTag, Tag]]:
    """The tags a contact holds that ``actor`` may see (rows of ``ContactTag``, ``Tag``)."""
    contact = contacts.get(session, actor, contact_id)
    return session.execute(
        select(ContactTag, Tag)
        .join(Tag, and_(Tag.workspace_id == ContactTag.workspace_id, Tag.id == ContactTag.tag_id))
        .where(
            ContactTag.workspace_id == actor.workspace_id,
            ContactTag.contact_id == contact.id,
            usable(session, actor),
        )
        .order_by(ContactTag.added_at, Tag.name)
    ).all()


def _usable_tags(session: Session, actor: Principal, tag_ids: Sequence[int]) -> list[Tag]:
    found = {
        t.id: t
        for t in session.scalars(
            select(Tag).where(
                Tag.workspace_id == actor.workspace_id,
                Tag.id.in_(sorted(set(tag_ids))),
                usable(session, actor),
            )
        )
    }
    missing = [i for i in tag_ids if i not in found]
    if missing:
        raise NotFound(resource=N_("Tag"), details={"tag_ids": [str(i) for i in missing]})
    return [found[i] for i in dict.fromkeys(tag_ids)]


def tag_contact(
    session: Session,
    actor: Principal,
    contact_id: int,
    tag_ids: Sequence[int],
    now: datetime,
    *,
    source: str = "manual",
) -> list[Draft]:
    """Give one contact these tags (in order: in an exclusive group the last one stays)."""
    contact = contacts.get(session, actor, contact_id, write=True)
    tags = _usable_tags(session, actor, tag_ids)
    return _store(
        session,
        actor.workspace_id,
        [Wanted(contact.id, t.id, True) for t in tags],
        source,
        actor,
        now,
    )


def untag_contact(
    session: Session, actor: Principal, contact_id: int, tag_id: int, now: datetime
) -> list[Draft]:
    """Take a tag from one contact (nothing happens if it does not hold it)."""
    contact = contacts.get(session, actor, contact_id, write=True)
    tag = _usable_tags(session, actor, [tag_id])[0]
    return _store(
        session, actor.workspace_id, [Wanted(contact.id, tag.id, False)], "manual", actor, now
    )


def bulk(
    session: Session, actor: Principal, tag_id: int, data: BulkIn, now: datetime
) -> tuple[int, int]:
    """Tag or untag the active contacts ``actor`` may see among ``contact_ids`` or matching
    ``condition``, 1,000 at a time (ids are walked in order, so a condition on this very tag
    still visits everyone once). Contacts outside the actor's scope or workspace are skipped.
    Returns (matched, changed)."""
    actor.require("contacts:write")
    tag = _usable_tags(session, actor, [tag_id])[0]
    ws = actor.workspace_id
    where: list[ColumnElement[bool]] = [
        Contact.workspace_id == ws,
        Contact.status == "active",
        contacts.visible(session, actor),
    ]
    if data.condition is not None:
        schema = checked(session, ws, data.condition)
        dialect = session.get_bind().dialect.name
        where.append(compile_sql(data.condition, schema, ws, now, dialect))
    named = sorted(set(data.contact_ids or ()))
    add = data.action == "add"
    kind = "tag_added" if add else "tag_removed"
    matched = changed = 0
    after = 0
    while True:
        stmt = select(Contact.id).where(*where, Contact.id > after).order_by(Contact.id)
        if data.contact_ids is not None:
            part = [i for i in named if i > after][:CHUNK]
            if not part:
                break
            stmt = stmt.where(Contact.id.in_(part))
            after = part[-1]
        ids = session.scalars(stmt.limit(CHUNK)).all()
        if data.contact_ids is None:
            if not ids:
                break
            after = ids[-1]
        matched += len(ids)
        drafts = _store(session, ws, [Wanted(c, tag.id, add) for c in ids], "bulk", actor, now)
        changed += sum(d.type == kind and d.properties["tag_id"] == str(tag.id) for d in drafts)
    return matched, changed


HOLDER_SORT = SortSpec(
    fields={"added_at": ContactTag.added_at}, tiebreak=Contact.id, default="-added_at"
)


def holders(
    session: Session, actor: Principal, tag_id: int, *, limit: int, cursor: str | None
) -> tuple[Sequence[Row[Any]], str | None]:
    """The active contacts ``actor`` may see that hold the tag, newest holders first."""
    actor.require("contacts:read")
    tag = get_tag(session, actor, tag_id)
    stmt = (
        select(Contact)
        .join(
            ContactTag,
            and_(
                ContactTag.workspace_id == Contact.workspace_id, ContactTag.contact_id == Contact.id
            ),
        )
        .where(
            ContactTag.workspace_id == actor.workspace_id,
            ContactTag.tag_id == tag.id,
            Contact.status == "active",
            contacts.visible(session, actor),
        )
    )
    return paginate(session, stmt, HOLDER_SORT, sort=None, limit=limit, cursor=cursor)
