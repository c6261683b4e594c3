"""The send-time checks, for a whole claimed batch at once: who the message goes to (a merged
contact's survivor), their address on the channel, suppression, consent, quiet hours in their
timezone and the frequency caps — each a query for the batch, never one per message.

A message that fails a check is *skipped* with the reason; one in the quiet hours is *deferred*
to the moment they end. On PostgreSQL the contacts whose caps are counted are locked for the
transaction (advisory locks, in a fixed order), so two dispatchers cannot both pass the cap.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from guanxi.consent import service as consent
from guanxi.consent import suppression
from guanxi.message import policy as rules
from guanxi.models import Contact, Identity, Message, SendingPolicy, Workspace

# where a channel's address lives: a contact column, or an identity kind
ADDRESS_COLUMN = {"email": "email", "sms": "phone"}
ADDRESS_IDENTITY = {
    "wecom": "wecom_external_userid",
    "wechat": "wechat_openid",
    "whatsapp": "whatsapp",
}


@dataclass(frozen=True)
class Verdict:
    """``go``: send to ``address``; ``skip``: record ``reason``; ``defer``: wait until ``until``."""

    action: str
    contact: Contact | None = None
    address: str | None = None
    reason: str | None = None
    until: datetime | None = None


def zone(name: str | None, fallback: str) -> ZoneInfo:
    for candidate in (name, fallback, "Asia/Shanghai"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def load_policy(session: Session, workspace_id: int) -> rules.Policy:
    row = session.get(SendingPolicy, workspace_id)
    if row is None:
        return rules.Policy()
    return rules.Policy.of(row.quiet_start, row.quiet_end, row.caps)


def _contacts(session: Session, workspace_id: int, ids: set[int]) -> dict[int, Contact]:
    """Each id's contact, a merged one replaced by its survivor (followed to the end)."""
    found: dict[int, Contact] = {}
    wanted, hops = set(ids), 0
    aliases: dict[int, int] = {i: i for i in ids}
    while wanted and hops < 8:
        rows = session.scalars(
            select(Contact).where(Contact.workspace_id == workspace_id, Contact.id.in_(wanted))
        ).all()
        wanted = set()
        by_id = {c.id: c for c in rows}
        for origin, current in list(aliases.items()):
            row = by_id.get(current)
            if row is None:
                continue
            if row.status == "merged" and row.merged_into_id:
                aliases[origin] = row.merged_into_id
                wanted.add(row.merged_into_id)
            else:
                found[origin] = row
        hops += 1
    return found


def people_of(session: Session, workspace_id: int, messages: Sequence[Message]) -> list[Contact]:
    """The contacts of messages already judged (their survivors, if merged, are named)."""
    ids = {m.contact_id for m in messages if m.contact_id}
    if not ids:
        return []
    stmt = select(Contact).where(Contact.workspace_id == workspace_id, Contact.id.in_(ids))
    return list(session.scalars(stmt))


def _identity_addresses(
    session: Session, workspace_id: int, kind: str, contact_ids: set[int]
) -> dict[int, str]:
    rows = session.execute(
        select(Identity.contact_id, Identity.value)
        .where(
            Identity.workspace_id == workspace_id,
            Identity.kind == kind,
            Identity.contact_id.in_(contact_ids),
        )
        .order_by(Identity.created_at.desc())
    ).all()
    out: dict[int, str] = {}
    for contact_id, value in rows:
        out.setdefault(contact_id, value)  # the newest identity of the kind
    return out


def _lock_contacts(session: Session, workspace_id: int, contact_ids: set[int]) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # one dispatcher on SQLite, and its writes are serialised anyway
    # one statement: the function scan yields the array in order, so the locks are taken in it
    keys = sorted({zlib.crc32(f"{workspace_id}:{c}".encode()) for c in contact_ids})
    session.execute(
        text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k"),
        {"keys": keys},
    )


def _history(
    session: Session, workspace_id: int, contact_ids: set[int], since: datetime
) -> dict[int, list[tuple[str, datetime]]]:
    """Each contact's marketing messages sent or on their way since ``since``."""
    at = func.coalesce(Message.sent_at, Message.created_at)
    rows = session.execute(
        select(Message.contact_id, Message.channel, at).where(
            Message.workspace_id == workspace_id,
            Message.contact_id.in_(contact_ids),
            Message.marketing.is_(True),
            or_(Message.status == "sent", Message.status == "sending"),
            at > since,
        )
    ).all()
    out: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    for contact_id, channel, when in rows:
        if contact_id is not None:
            out[contact_id].append((channel, when))
    return out


def judge(
    session: Session, workspace_id: int, messages: Sequence[Message], now: datetime
) -> dict[int, Verdict]:
    """A verdict for each queued message of one workspace (by message id)."""
    workspace = session.get(Workspace, workspace_id)
    fallback_tz = workspace.timezone if workspace else "Asia/Shanghai"
    policy = load_policy(session, workspace_id)
    people = _contacts(session, workspace_id, {m.contact_id for m in messages if m.contact_id})
    survivors = {c.id for c in people.values()}

    addresses: dict[tuple[str, int], str] = {}
    for channel in {m.channel for m in messages}:
        if channel in ADDRESS_COLUMN:
            column = ADDRESS_COLUMN[channel]
            for c in people.values():
                if getattr(c, column):
                    addresses[(channel, c.id)] = getattr(c, column)
        elif channel in ADDRESS_IDENTITY:
            kind = ADDRESS_IDENTITY[channel]
            for cid, value in _identity_addresses(session, workspace_id, kind, survivors).items():
                addresses[(channel, cid)] = value

    def address_of(m: Message, contact: Contact | None) -> str | None:
        if m.to_address:
            return m.to_address
        return addresses.get((m.channel, contact.id)) if contact else None

    blocked_addresses: dict[str, set[str]] = {}
    blocked_people: dict[str, dict[int, str]] = {}
    for channel in {m.channel for m in messages}:
        mine = [m for m in messages if m.channel == channel]
        wanted = {a for m in mine if (a := address_of(m, people.get(m.contact_id or 0)))}
        blocked_addresses[channel] = suppression.suppressed(session, workspace_id, channel, wanted)
        marketing = {
            people[m.contact_id].id for m in mine if m.marketing and m.contact_id in people
        }
        blocked_people[channel] = consent.blocked(session, workspace_id, channel, marketing)

    capped = {people[m.contact_id].id for m in messages if m.marketing and m.contact_id in people}
    history: dict[int, list[tuple[str, datetime]]] = {}
    if policy.caps and capped:
        _lock_contacts(session, workspace_id, capped)
        longest = max(c.days for c in policy.caps)
        history = _history(session, workspace_id, capped, now - timedelta(days=longest))

    verdicts: dict[int, Verdict] = {}
    for m in messages:
        contact = people.get(m.contact_id) if m.contact_id else None
        if m.contact_id and contact is None:
            verdicts[m.id] = Verdict("skip", reason="no_contact")
            continue
        address = address_of(m, contact)
        if not address:
            verdicts[m.id] = Verdict("skip", contact, reason="no_address")
        elif address in blocked_addresses[m.channel]:
            verdicts[m.id] = Verdict("skip", contact, address, reason="suppressed")
        elif m.marketing and contact and contact.id in blocked_people[m.channel]:
            verdicts[m.id] = Verdict(
                "skip", contact, address, blocked_people[m.channel][contact.id]
            )
        elif (
            m.marketing
            and contact
            and rules.quiet(policy, now, tz := zone(contact.timezone, fallback_tz))
        ):
            verdicts[m.id] = Verdict(
                "defer", contact, address, until=rules.next_allowed(policy, now, tz)
            )
        elif (
            m.marketing
            and contact
            and rules.over_cap(policy, m.channel, history.get(contact.id, []), now)
        ):
            verdicts[m.id] = Verdict("skip", contact, address, reason="frequency_cap")
        else:
            verdicts[m.id] = Verdict("go", contact, address)
            if m.marketing and contact:
                history.setdefault(contact.id, []).append((m.channel, now))
    return verdicts
