"""Consent: a contact's opt-in or opt-out per channel, with where it came from and when, and
the check the dispatcher makes for a whole batch at send time.

A change is a row (``contact_consent``, one per contact × channel) and a ``consent_changed``
event on the contact's timeline. Repeating the status a contact already has writes nothing, so
the row keeps when and where that status was given — the proof a regulator asks for.

Whether marketing may reach a contact on a channel: an opt-out stops it; on a channel the
workspace's sending policy lists in ``opt_in_channels`` only an opt-in lets it through;
elsewhere a contact who did not opt out may get marketing. Transactional messages are not
held by consent (suppression lists hold every message).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import literal, select, true
from sqlalchemy.orm import Session

from guanxi.db import in_list
from guanxi.event import service as events
from guanxi.event.records import Draft
from guanxi.i18n import N_
from guanxi.models import Contact, ContactConsent, SendingPolicy

# The channels a person can unsubscribe from in the preference centre, in the order shown.
CHANNELS: tuple[str, ...] = ("email", "sms", "wecom", "wechat", "whatsapp")
CHANNEL_LABELS = {
    "email": N_("Email"),
    "sms": N_("SMS"),
    "wecom": N_("WeCom"),
    "wechat": N_("WeChat"),
    "whatsapp": N_("WhatsApp"),
    "phone": N_("Phone calls"),
}
OPTED_OUT, NO_OPT_IN = "opted_out", "no_opt_in"


def refusal(status: str | None, needs_opt_in: bool) -> str | None:
    """Why marketing may not go on a channel where the contact's consent is ``status`` (None:
    never given), or None when it may (pure)."""
    if status == "opt_out":
        return OPTED_OUT
    if needs_opt_in and status != "opt_in":
        return NO_OPT_IN
    return None


def record(
    session: Session,
    workspace_id: int,
    contact_id: int,
    channel: str,
    status: str,
    source: str | None,
    now: datetime,
) -> tuple[ContactConsent, bool]:
    """Opt-in or opt-out of one channel, with where it was given (no permission check: the
    caller is the person themselves, a form, a bounce, or an API call checked before); the row
    and whether it changed."""
    row = session.get(ContactConsent, (workspace_id, contact_id, channel))
    if row is not None and row.status == status:
        return row, False
    if row is None:
        row = ContactConsent(workspace_id=workspace_id, contact_id=contact_id, channel=channel)
        session.add(row)
    row.status, row.source, row.updated_at = status, source, now
    session.flush()
    props: dict[str, Any] = {"channel": channel, "status": status}
    if source:
        props["source"] = source
    draft = Draft(contact_id, "consent_changed", now, props, channel=channel, source=source)
    events.store(session, workspace_id, [draft], now)
    return row, True


def opt_in_channels(session: Session, workspace_id: int) -> frozenset[str]:
    """The channels where the sending policy wants an explicit opt-in for marketing."""
    policy = session.get(SendingPolicy, workspace_id)
    return frozenset(policy.opt_in_channels) if policy else frozenset()


def blocked(
    session: Session, workspace_id: int, channel: str, contact_ids: Iterable[int]
) -> dict[int, str]:
    """The contacts among ``contact_ids`` whom marketing may not reach on ``channel``, each
    with why (``opted_out`` or ``no_opt_in``) — one query for the batch.

    The query is the contacts' consent rows on the channel, each carrying the policy's opt-in
    channels; its outer join to a single row brings the policy back even when no contact of
    the batch has a row."""
    ids = set(contact_ids)
    if not ids:
        return {}
    policy = (
        select(SendingPolicy.opt_in_channels)
        .where(SendingPolicy.workspace_id == workspace_id)
        .scalar_subquery()
    )
    rows = (
        select(ContactConsent.contact_id, ContactConsent.status)
        .where(
            ContactConsent.workspace_id == workspace_id,
            ContactConsent.channel == channel,
            in_list(session, ContactConsent.contact_id, ids),
        )
        .subquery()
    )
    one = select(literal(1).label("one")).subquery()
    stmt = select(policy.label("opt_in"), rows.c.contact_id, rows.c.status).select_from(
        one.outerjoin(rows, true())
    )
    status: dict[int, str] = {}
    needs_opt_in = False
    for opt_in, contact_id, state in session.execute(stmt):
        needs_opt_in = channel in (opt_in or ())
        if contact_id is not None:
            status[contact_id] = state
    out: dict[int, str] = {}
    for contact_id in ids:
        reason = refusal(status.get(contact_id), needs_opt_in)
        if reason is not None:
            out[contact_id] = reason
    return out


def person(session: Session, workspace_id: int, contact_id: int) -> Contact | None:
    """The active contact ``contact_id`` is now (a merged one's survivor), or None when it is
    gone: a link in an old message follows the person through merges."""
    for _ in range(16):
        contact = session.get(Contact, (workspace_id, contact_id))
        if contact is None or contact.status == "active":
            return contact
        if contact.merged_into_id is None:
            return None
        contact_id = contact.merged_into_id
    return None


def overview(
    session: Session, workspace_id: int, contact_id: int
) -> list[tuple[str, ContactConsent | None, str | None]]:
    """Every channel with the contact's consent row on it (or None) and why marketing may not
    reach them there (or None)."""
    needs = opt_in_channels(session, workspace_id)
    rows = {
        r.channel: r
        for r in session.scalars(
            select(ContactConsent).where(
                ContactConsent.workspace_id == workspace_id,
                ContactConsent.contact_id == contact_id,
            )
        )
    }
    out = []
    for channel in CHANNEL_LABELS:
        row = rows.get(channel)
        out.append((channel, row, refusal(row.status if row else None, channel in needs)))
    return out


def subscriptions(
    session: Session, workspace_id: int, contact_id: int, channels: Collection[str]
) -> dict[str, bool]:
    """Whether marketing may reach the contact on each of ``channels`` (consent and policy)."""
    refused = {c: why for c, _, why in overview(session, workspace_id, contact_id)}
    return {c: refused.get(c) is None for c in channels}


def unsubscribe(
    session: Session,
    workspace_id: int,
    contact_id: int,
    channels: Iterable[str],
    *,
    source: str,
    message_id: int | None,
    now: datetime,
) -> list[str]:
    """Opt the contact out of ``channels``, with an ``unsubscribed`` event (naming the message
    the link came in, if any) for each that was not opted out already; those channels."""
    changed = [
        c
        for c in channels
        if record(session, workspace_id, contact_id, c, "opt_out", source, now)[1]
    ]
    extra = {"message_id": str(message_id)} if message_id is not None else {}
    drafts = [
        Draft(contact_id, "unsubscribed", now, {"channel": c, **extra}, channel=c, source=source)
        for c in changed
    ]
    if drafts:
        events.store(session, workspace_id, drafts, now)
    return changed


def set_subscriptions(
    session: Session,
    workspace_id: int,
    contact_id: int,
    wanted: Mapping[str, bool],
    *,
    source: str,
    message_id: int | None,
    now: datetime,
) -> None:
    """What the person chose per channel: an opt-in where they want marketing and do not get
    it now, an opt-out (with its ``unsubscribed`` event) where they get it and do not want it;
    channels already as they want them are left alone."""
    current = subscriptions(session, workspace_id, contact_id, list(wanted))
    for channel, on in wanted.items():
        if on and not current[channel]:
            record(session, workspace_id, contact_id, channel, "opt_in", source, now)
    off = [c for c, on in wanted.items() if not on and current[c]]
    unsubscribe(
        session, workspace_id, contact_id, off, source=source, message_id=message_id, now=now
    )
