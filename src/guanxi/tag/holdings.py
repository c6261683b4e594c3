"""Who holds which tag: the ``contact_tag`` rows, changed set-wise, for ``tag.service``, the
auto-tag rules reactor and contact merges.

``change`` is the one place holdings are written from a list of wanted adds and removes: it
reads what the contacts hold now with one query, applies the wishes in order (an add in an
exclusive group takes the group's other tags away), writes the net difference with one
statement per kind, and returns the ``tag_added``/``tag_removed`` drafts for the event store.
It stores no events itself: this module sits below the event pipeline (the reactor and the
identity module's merges use it), so it must not import ``event.service``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from guanxi.db import in_list, upsert_rows
from guanxi.event.records import Draft
from guanxi.models import ContactTag, Tag, TagGroup

CHUNK = 1_000  # contacts per statement and per store call in bulk paths


@dataclass(frozen=True)
class Wanted:
    """Add (or remove) ``tag_id`` for ``contact_id``; ``rule_id``: the rule asking."""

    contact_id: int
    tag_id: int
    add: bool
    rule_id: int | None = None


def chunks(ids: Sequence[int], size: int = CHUNK) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def insert_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert holdings; one a concurrent writer inserted first is left as it is."""
    upsert_rows(session, ContactTag, rows, ["workspace_id", "contact_id", "tag_id"])


def delete_rows(session: Session, workspace_id: int, pairs: Iterable[tuple[int, int]]) -> None:
    """Delete holdings by (contact, tag): one statement per tag."""
    by_tag: dict[int, list[int]] = defaultdict(list)
    for contact_id, tag_id in pairs:
        by_tag[tag_id].append(contact_id)
    for tag_id, contact_ids in sorted(by_tag.items()):
        for part in chunks(sorted(contact_ids)):
            session.execute(
                delete(ContactTag).where(
                    ContactTag.workspace_id == workspace_id,
                    ContactTag.tag_id == tag_id,
                    in_list(session, ContactTag.contact_id, list(part)),
                )
            )


def tags_by_id(session: Session, workspace_id: int, ids: Iterable[int]) -> dict[int, Tag]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.scalars(select(Tag).where(Tag.workspace_id == workspace_id, Tag.id.in_(wanted)))
    return {t.id: t for t in rows}


def _siblings(session: Session, workspace_id: int, tags: Mapping[int, Tag]) -> dict[int, Tag]:
    """Every tag of the exclusive groups among ``tags``' groups, by id."""
    groups = {t.group_id for t in tags.values() if t.group_id is not None}
    if not groups:
        return {}
    rows = session.scalars(
        select(Tag)
        .join(TagGroup, (TagGroup.workspace_id == Tag.workspace_id) & (TagGroup.id == Tag.group_id))
        .where(
            Tag.workspace_id == workspace_id,
            TagGroup.id.in_(sorted(groups)),
            TagGroup.exclusive.is_(True),
        )
    )
    return {t.id: t for t in rows}


def _draft(
    contact_id: int,
    tag: Tag,
    added: bool,
    source: str,
    actor_id: int | None,
    rule_id: int | None,
    now: datetime,
) -> Draft:
    properties: dict[str, Any] = {"tag": tag.name, "tag_id": str(tag.id), "source": source}
    if actor_id is not None:
        properties["actor_id"] = str(actor_id)
    if rule_id is not None:
        properties["rule_id"] = str(rule_id)
    return Draft(contact_id, "tag_added" if added else "tag_removed", now, properties)


def change(
    session: Session,
    workspace_id: int,
    wanted: Sequence[Wanted],
    *,
    source: str,
    actor_id: int | None,
    now: datetime,
) -> list[Draft]:
    """Apply ``wanted`` in order and write the net difference; returns the events to store
    (one per holding gained or lost). The contacts must be active ones of the workspace."""
    if not wanted:
        return []
    tags = tags_by_id(session, workspace_id, (w.tag_id for w in wanted))
    wanted = [w for w in wanted if w.tag_id in tags]
    exclusive = _siblings(session, workspace_id, {w.tag_id: tags[w.tag_id] for w in wanted})
    tags.update(exclusive)
    group_of = {t.id: t.group_id for t in exclusive.values()}
    members: dict[int | None, set[int]] = defaultdict(set)
    for tag_id, group_id in group_of.items():
        members[group_id].add(tag_id)

    contact_ids = sorted({w.contact_id for w in wanted})
    tag_ids = sorted(tags)
    before: set[tuple[int, int]] = set()
    for part in chunks(contact_ids):
        before |= {
            (c, t)
            for c, t in session.execute(
                select(ContactTag.contact_id, ContactTag.tag_id).where(
                    ContactTag.workspace_id == workspace_id,
                    in_list(session, ContactTag.contact_id, list(part)),
                    ContactTag.tag_id.in_(tag_ids),
                )
            )
        }
    state = set(before)
    cause: dict[tuple[int, int], int | None] = {}  # the rule behind each change
    for w in wanted:
        pair = (w.contact_id, w.tag_id)
        if not w.add:
            state.discard(pair)
            cause[pair] = w.rule_id
            continue
        if pair in state:
            continue
        for other in members.get(group_of.get(w.tag_id), set()) - {w.tag_id}:
            if (w.contact_id, other) in state:
                state.discard((w.contact_id, other))
                cause[w.contact_id, other] = w.rule_id
        state.add(pair)
        cause[pair] = w.rule_id

    gone = sorted(before - state)
    new = sorted(state - before)
    delete_rows(session, workspace_id, gone)
    insert_rows(
        session,
        [
            {
                "workspace_id": workspace_id,
                "contact_id": c,
                "tag_id": t,
                "source": source,
                "actor_id": actor_id,
                "rule_id": cause.get((c, t)),
                "added_at": now,
            }
            for c, t in new
        ],
    )
    session.flush()
    drafts = [_draft(c, tags[t], False, source, actor_id, cause.get((c, t)), now) for c, t in gone]
    drafts += [_draft(c, tags[t], True, source, actor_id, cause.get((c, t)), now) for c, t in new]
    return drafts


# -- contact merges --------------------------------------------------------------------------


def copy_for_merge(
    session: Session, workspace_id: int, survivor_id: int, merged_id: int
) -> list[str]:
    """Give the survivor the merged contact's tags it lacks (as they were: source, actor, rule,
    time), except a tag of an exclusive group in which the survivor holds one already (the
    survivor's own wins, as its fields do). Returns the ids copied, for the merge log."""
    rows = session.scalars(
        select(ContactTag).where(
            ContactTag.workspace_id == workspace_id,
            in_list(session, ContactTag.contact_id, [survivor_id, merged_id]),
        )
    ).all()
    tags = tags_by_id(session, workspace_id, (r.tag_id for r in rows))
    exclusive = _siblings(session, workspace_id, tags)
    held = {r.tag_id for r in rows if r.contact_id == survivor_id}
    taken = {exclusive[t].group_id for t in held if t in exclusive}
    copies = []
    for row in rows:
        if row.contact_id != merged_id or row.tag_id in held:
            continue
        group = exclusive[row.tag_id].group_id if row.tag_id in exclusive else None
        if group is not None:
            if group in taken:
                continue
            taken.add(group)
        copies.append(row)
    insert_rows(
        session,
        [
            {
                "workspace_id": workspace_id,
                "contact_id": survivor_id,
                "tag_id": r.tag_id,
                "source": r.source,
                "actor_id": r.actor_id,
                "rule_id": r.rule_id,
                "added_at": r.added_at,
            }
            for r in copies
        ],
    )
    return [str(r.tag_id) for r in copies]


def drop_merge_copies(
    session: Session, workspace_id: int, survivor_id: int, merged_id: int, tag_ids: Sequence[str]
) -> None:
    """Undo ``copy_for_merge``: remove the copies the survivor still holds as copied (same
    time added as the merged contact's own); a tag taken away and given again since stays."""
    ids = [int(t) for t in tag_ids]
    if not ids:
        return
    rows = session.scalars(
        select(ContactTag).where(
            ContactTag.workspace_id == workspace_id,
            in_list(session, ContactTag.contact_id, [survivor_id, merged_id]),
            ContactTag.tag_id.in_(ids),
        )
    ).all()
    theirs = {r.tag_id: r.added_at for r in rows if r.contact_id == merged_id}
    delete_rows(
        session,
        workspace_id,
        [
            (survivor_id, r.tag_id)
            for r in rows
            if r.contact_id == survivor_id and theirs.get(r.tag_id) == r.added_at
        ],
    )
