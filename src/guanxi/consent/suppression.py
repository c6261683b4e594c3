"""Suppression lists: addresses nothing may be sent to on a channel — hard bounces, complaints,
lists a user loads (an old provider's unsubscribes, a do-not-contact list) — and the batch
check the dispatcher makes at send time. Unlike consent, a suppression holds every message,
transactional ones too, and holds the address whoever it belongs to.

Addresses are kept normalised so that every comparison is exact: emails lower-cased, phone
numbers (SMS, WhatsApp, calls) in E.164, WeChat and WeCom ids as given.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.consent import service as consent
from guanxi.contact import normalise
from guanxi.db import in_list, upsert_statement
from guanxi.errors import BadRequest, GuanxiError, InvalidValue, NotFound
from guanxi.i18n import N_
from guanxi.identity import service as identities
from guanxi.identity.rules import key
from guanxi.kit.ids import new_ids
from guanxi.kit.pagination import SortSpec, paginate
from guanxi.models import Suppression

REASONS = {
    "bounce": N_("Hard bounce"),
    "complaint": N_("Spam complaint"),
    "unsubscribe": N_("Unsubscribed"),
    "manual": N_("Added by hand"),
}
PHONE_CHANNELS = frozenset({"sms", "whatsapp", "phone"})
MAX_ADD = 10_000  # addresses in one call of the API
MAX_FILE = 10 * 1024 * 1024  # a CSV list: some 300,000 addresses
_CHUNK = 1_000  # rows in one INSERT
_EXAMPLES = 10  # invalid addresses named in an answer
# header cells that name the column of addresses (any other header: the first column)
_HEADERS = frozenset(
    {"address", "email", "e-mail", "phone", "mobile", "openid", "userid", "邮箱", "手机", "手机号"}
)

SORT = SortSpec(
    fields={"created_at": Suppression.created_at, "address": Suppression.address},
    tiebreak=Suppression.id,
    default="-created_at",
)


class InvalidAddresses(GuanxiError):
    status = 422
    code = "invalid_addresses"
    message = N_("{count} of the addresses are not valid on this channel, e.g. {examples}")


class ListTooLarge(BadRequest):
    code = "file_too_large"
    message = N_("The file is larger than {limit} MB; split it into several uploads.")


class UnreadableList(BadRequest):
    code = "unreadable_file"
    message = N_("The file cannot be read as CSV.")


@dataclass(frozen=True)
class Added:
    """What adding a list did: new rows, addresses already on the list, and (for a file) the
    lines that held no valid address, with the first few of them."""

    added: int
    existing: int
    invalid: int = 0
    examples: tuple[str, ...] = ()


def clean(channel: str, address: str) -> str:
    """``address`` as the list keeps it on ``channel``; InvalidValue when it is not one."""
    if channel == "email":
        return normalise.email(address)
    if channel in PHONE_CHANNELS:
        return normalise.phone(address)
    text = address.strip()
    if not text or len(text) > 254 or "\x00" in text:
        raise InvalidValue(N_("not an address: {value}"), value=address[:80])
    return text


def _valid(channel: str, address: str) -> bool:
    try:
        clean(channel, address)
    except InvalidValue:
        return False
    return True


def _key(channel: str, address: str) -> str:
    """The form to look an address up by: cleaned, or as given when it cannot be (an address
    the list cannot hold is on it under no form)."""
    try:
        return clean(channel, address)
    except InvalidValue:
        return address.strip().lower() if channel == "email" else address.strip()


def _split(channel: str, addresses: Iterable[str]) -> tuple[list[str], list[str]]:
    """The distinct clean addresses (in order) and the invalid ones."""
    good: dict[str, None] = {}
    bad: list[str] = []
    for address in addresses:
        try:
            good[clean(channel, address)] = None
        except InvalidValue:
            bad.append(address)
    return list(good), bad


def _insert(
    session: Session,
    workspace_id: int,
    channel: str,
    addresses: Sequence[str],
    *,
    reason: str,
    source: str | None,
    note: str | None,
    created_by: int | None,
    now: datetime,
) -> int:
    """Add clean addresses not on the list yet, one statement per thousand; how many were new."""
    added = 0
    for start in range(0, len(addresses), _CHUNK):
        chunk = addresses[start : start + _CHUNK]
        rows = [
            {
                "workspace_id": workspace_id,
                "id": row_id,
                "channel": channel,
                "address": address,
                "reason": reason,
                "source": source,
                "note": note,
                "created_by": created_by,
                "created_at": now,
            }
            for row_id, address in zip(new_ids(len(chunk)), chunk, strict=True)
        ]
        stmt = (
            upsert_statement(session, Suppression)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["workspace_id", "channel", "address"])
            .returning(Suppression.id)
        )
        added += len(session.execute(stmt).all())
    return added


def add(
    session: Session,
    actor: Principal,
    channel: str,
    addresses: Sequence[str],
    *,
    reason: str,
    note: str | None,
    source: str,
    now: datetime,
) -> Added:
    """Put addresses on the channel's list; one that is not valid refuses them all (422
    ``invalid_addresses``), nothing written. Addresses on the list already stay as they are."""
    actor.require("messages:write")
    good, bad = _split(channel, addresses)
    if bad:
        raise InvalidAddresses(
            count=len(bad), examples=", ".join(bad[:_EXAMPLES]), details={"invalid": bad[:100]}
        )
    new = _insert(
        session,
        actor.workspace_id,
        channel,
        good,
        reason=reason,
        source=source,
        note=note,
        created_by=actor.user_id,
        now=now,
    )
    return Added(new, len(good) - new)


def _decode(data: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else GB18030 — what Excel in China saves."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableList()


def read_csv(channel: str, data: bytes) -> list[str]:
    """The addresses of a CSV file: the column headed address, email, phone … (or 邮箱, 手机),
    else the first column; a first line whose cell is no address on ``channel`` is a header."""
    if len(data) > MAX_FILE:
        raise ListTooLarge(limit=MAX_FILE // (1024 * 1024))
    text = _decode(data)
    if "\x00" in text:
        raise UnreadableList()
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = [r for r in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise UnreadableList() from exc
    if not rows:
        return []
    named = [i for i, cell in enumerate(rows[0]) if cell.strip().lower() in _HEADERS]
    column = named[0] if named else 0
    first = rows[0][column] if len(rows[0]) > column else ""
    if named or not _valid(channel, first):
        rows = rows[1:]
    return [r[column].strip() for r in rows if len(r) > column and r[column].strip()]


def import_csv(
    session: Session,
    actor: Principal,
    channel: str,
    data: bytes,
    *,
    reason: str,
    note: str | None,
    source: str,
    now: datetime,
) -> Added:
    """Put the addresses of a CSV file on the channel's list. A person's file often holds a
    few bad lines: those are skipped and counted, and the rest is added."""
    actor.require("messages:write")
    good, bad = _split(channel, read_csv(channel, data))
    new = _insert(
        session,
        actor.workspace_id,
        channel,
        good,
        reason=reason,
        source=source[:120],
        note=note,
        created_by=actor.user_id,
        now=now,
    )
    return Added(new, len(good) - new, len(bad), tuple(bad[:_EXAMPLES]))


def remove(session: Session, actor: Principal, suppression_id: int) -> None:
    """Take an address off its list: messages may go to it again."""
    actor.require("messages:write")
    row = session.get(Suppression, (actor.workspace_id, suppression_id))
    if row is None:
        raise NotFound(resource=N_("Suppression"))
    session.delete(row)
    session.flush()


def list_suppressions(
    session: Session,
    actor: Principal,
    *,
    channel: str | None,
    q: str | None,
    sort: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Row[Any]], str | None]:
    """The workspace's suppressed addresses (rows of ``Suppression``), newest first by default;
    ``q`` is part of an address, in any case."""
    actor.require("messages:read")
    stmt = select(Suppression).where(Suppression.workspace_id == actor.workspace_id)
    if channel is not None:
        stmt = stmt.where(Suppression.channel == channel)
    if q and q.strip():
        stmt = stmt.where(
            func.lower(Suppression.address).contains(q.strip().lower(), autoescape=True)
        )
    return paginate(session, stmt, SORT, sort=sort, limit=limit, cursor=cursor)


def suppressed(
    session: Session, workspace_id: int, channel: str, addresses: Iterable[str]
) -> set[str]:
    """Those of ``addresses`` (as given) that are on the channel's list — one query for the
    batch; ``Alice@Example.com`` is held by ``alice@example.com``, ``138 0013 8000`` by
    ``+8613800138000``."""
    by_key: dict[str, list[str]] = {}
    for address in addresses:
        by_key.setdefault(_key(channel, address), []).append(address)
    if not by_key:
        return set()
    found = session.scalars(
        select(Suppression.address).where(
            Suppression.workspace_id == workspace_id,
            Suppression.channel == channel,
            in_list(session, Suppression.address, by_key),
        )
    )
    return {given for k in found for given in by_key.get(k, ())}


def from_bounce(
    session: Session,
    workspace_id: int,
    address: str,
    kind: Literal["bounce", "complaint"],
    source: str | None,
    now: datetime,
) -> Suppression:
    """An email address bounced hard or its owner complained: it goes on the email list
    (reason ``bounce`` or ``complaint``; an address on it already keeps its first reason). A
    complaint also opts the contact holding the address out of email, with source
    ``complaint``."""
    email = _key("email", address)
    _insert(
        session,
        workspace_id,
        "email",
        [email],
        reason=kind,
        source=source,
        note=None,
        created_by=None,
        now=now,
    )
    row = session.scalar(
        select(Suppression).where(
            Suppression.workspace_id == workspace_id,
            Suppression.channel == "email",
            Suppression.address == email,
        )
    )
    assert row is not None
    if kind == "complaint":
        try:
            holders = identities.lookup(session, workspace_id, [key("email", email)])
        except InvalidValue:
            holders = {}
        for contact_id in holders.values():
            consent.record(session, workspace_id, contact_id, "email", "opt_out", "complaint", now)
    return row
