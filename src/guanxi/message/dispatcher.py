"""The dispatcher: claims due messages from the outbox, sends them, records every attempt.

One round: (1) in one transaction, claim a batch (``FOR UPDATE SKIP LOCKED`` on PostgreSQL),
judge it (``gate.py``: skip, defer, or go) and mark what goes ``sending`` with a lease and an
attempt begun; (2) in a second, compose it — what cannot be built gives its attempt back;
(3) outside any transaction, hand the messages to their connectors, at most each
connector's ``max_in_flight`` at a time; (4) record the results in small groups *as they come
back*, each fenced on this dispatcher still holding the message. Holding before composing means
a message whose composing kills the process counts as a stop like one killed mid-send.

What a crash can repeat: a message is marked ``sending`` before it is handed over and
``sent`` right after, so a kill between the two leaves it ``sending`` until its lease runs out;
then another round sends it again — with the same key, so the same Message-ID. Only messages in
flight or sent-but-not-yet-recorded at the instant of the kill can repeat: at most the
connector's window plus one record group. A message taken over ``MAX_TAKEOVERS`` times is
failed instead (``too_many_attempts``): it may itself be what kills its dispatchers.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, delete, func, or_, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from guanxi.channels.base import (
    Connector,
    OutboundMessage,
    PermanentSendError,
    RetryableSendError,
    SendResult,
)
from guanxi.config import Settings
from guanxi.db import bulk_insert, transaction, update_rows
from guanxi.event import service as events_service
from guanxi.event.records import Draft
from guanxi.kit.clock import utcnow
from guanxi.kit.pacing import Pacer
from guanxi.message import compose, gate, outbox
from guanxi.message.accounts import CannotSendHere, ConnectorCache
from guanxi.models import Message, MessageAttempt
from guanxi.worker.jobs import WORKER_ID

log = logging.getLogger("guanxi.dispatcher")

MAX_ATTEMPTS = 8
# a message whose dispatcher stopped mid-send this many times is not sent again: it may be
# what stops them (a poison message), and each stop repeats the sends in flight beside it
MAX_TAKEOVERS = 3
RECORD_GROUP = 25  # results committed together: bounds what a kill can leave unrecorded
SENT_EVENT = {"email": "email_sent", "sms": "sms_sent"}


def backoff(attempts: int, hint_s: float | None = None) -> timedelta:
    """30 s, 2 min, 8 min … capped at 6 h, with jitter; never sooner than the provider asked."""
    base = min(30 * 4 ** max(attempts - 1, 0), 6 * 3600)
    jitter = random.uniform(0.8, 1.2)  # noqa: S311 - spreading retries, not a secret
    return timedelta(seconds=max(base * jitter, hint_s or 0))


@dataclass
class Outgoing:
    message_id: int
    workspace_id: int
    account_key: tuple[int, int]
    attempt: int
    outbound: OutboundMessage
    contact_id: int | None
    channel: str
    event: dict[str, Any]


@dataclass
class Result:
    out: Outgoing
    sent: SendResult | None = None
    error: Exception | None = None


def _claimable(now: datetime) -> Any:
    return or_(
        and_(Message.status == "queued", Message.due_at <= now),
        and_(Message.status == "sending", Message.lease_until < now),
    )


def _give_up_on_poison(
    session: Session, workspace_id: int, claimed: list[Message]
) -> list[Message]:
    """The claimed messages still to send: one taken over (``sending``, its lease run out) for
    the ``MAX_TAKEOVERS``-th time fails with ``too_many_attempts`` instead. A stop is counted
    as an attempt that was never finished (every attempt a dispatcher records is finished or,
    throttled, deleted)."""
    taken = {m.id for m in claimed if m.status == "sending"}
    if not taken:
        return claimed
    stops = dict(
        session.execute(
            select(MessageAttempt.message_id, func.count())
            .where(
                MessageAttempt.workspace_id == workspace_id,
                MessageAttempt.message_id.in_(taken),
                MessageAttempt.finished_at.is_(None),
            )
            .group_by(MessageAttempt.message_id)
        ).all()
    )
    keep = []
    for m in claimed:
        if stops.get(m.id, 0) < MAX_TAKEOVERS:
            keep.append(m)
            continue
        log.warning("message given up: its dispatchers kept stopping", extra={"message_id": m.id})
        m.status, m.reason = "failed", "too_many_attempts"
        m.lease_until = m.claimed_by = None
    return keep


def _by_workspace(rows: Sequence[Message]) -> dict[int, list[Message]]:
    out: dict[int, list[Message]] = {}
    for row in rows:
        out.setdefault(row.workspace_id, []).append(row)
    return out


def _held(session: Session, worker: str, keys: Sequence[tuple[int, int]]) -> list[Message]:
    """The messages this dispatcher holds among ``keys`` (another may have taken over one whose
    lease ran out meanwhile)."""
    if not keys:
        return []
    table = cast(Table, Message.__table__)
    return list(
        session.scalars(
            select(Message)
            .where(
                tuple_(table.c.workspace_id, table.c.id).in_(sorted(keys)),
                Message.status == "sending",
                Message.claimed_by == worker,
            )
            .order_by(Message.workspace_id, Message.id)
        )
    )


def _give_back(session: Session, untried: Sequence[Message]) -> None:
    """Messages held but not handed over (they could not be built): no longer held, and the
    attempt begun for them is taken back — nothing was tried."""
    if not untried:
        return
    table = cast(Table, MessageAttempt.__table__)
    begun = [(m.workspace_id, m.id, m.attempts) for m in untried]
    for m in untried:
        m.lease_until = m.claimed_by = None
        m.attempts -= 1
    session.flush()
    keys = (table.c.workspace_id, table.c.message_id, table.c.n)
    session.execute(delete(table).where(tuple_(*keys).in_(begun)))


def claim(session: Session, now: datetime, limit: int) -> list[Message]:
    stmt = (
        select(Message)
        .where(Message.due_at <= now, _claimable(now))
        .order_by(Message.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt).all())


class Dispatcher:
    """Holds the connectors (and their open connections) from one round to the next."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        *,
        worker: str = WORKER_ID,
        batch: int = 200,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``clock``: the time rounds judge and record by (a simulation moves it)."""
        self.factory, self.settings, self.worker, self.batch = factory, settings, worker, batch
        self.clock = clock
        self.loop = asyncio.new_event_loop()
        self.connectors = ConnectorCache(settings.secret_key)
        self.pacer = Pacer({}, None)  # each channel account's rate_per_s

    def close(self) -> None:
        self.loop.run_until_complete(self.connectors.close_all())
        self.loop.close()

    # -- one round ---------------------------------------------------------------------------

    def run_once(self, now: datetime | None = None) -> int:
        """Claim, send and record one batch; returns how many messages it settled."""
        now = now or self.clock()
        with transaction(self.factory) as session:
            rows = claim(session, now, self.batch)
            if not rows:
                return 0
            held = self._judge(session, rows, now)
        with transaction(self.factory) as session:
            outgoing = self._compose(session, _held(session, self.worker, held))
        if outgoing:
            self.loop.run_until_complete(self._send_all(outgoing))
        return len(rows)

    def _judge(
        self, session: Session, rows: Sequence[Message], now: datetime
    ) -> list[tuple[int, int]]:
        """Skip or defer what may not go now; mark the rest ``sending`` with a lease, the
        address judged and an attempt begun (a poison message is given up instead); returns
        the messages held."""
        held: list[Message] = []
        # workspaces in id order, contacts in key order within each: every dispatcher takes the
        # gate's advisory locks in one global order, so two cannot deadlock on them
        for workspace_id, mine in sorted(_by_workspace(rows).items()):
            mine = _give_up_on_poison(session, workspace_id, mine)
            # a message taken over from a dispatcher that died was judged already, unless it
            # died before it wrote down the address
            fresh = [m for m in mine if m.status == "queued" or m.to_address is None]
            for m in fresh:  # judged anew: a dead hold is not on its way, nor in the caps
                m.status, m.claimed_by, m.lease_until = "queued", None, None
            verdicts = gate.judge(session, workspace_id, fresh, now)
            for m in mine:
                verdict = verdicts.get(m.id)
                if verdict is not None and verdict.action == "skip":
                    m.status, m.reason = "skipped", verdict.reason
                    continue
                if verdict is not None and verdict.action == "defer":
                    m.due_at, m.reason = verdict.until or now, "quiet_hours"
                    continue
                if verdict is not None:
                    m.to_address = verdict.address
                    if verdict.contact is not None:
                        m.contact_id = verdict.contact.id  # a merged contact's survivor
                held.append(m)
        for m in held:
            m.status, m.claimed_by = "sending", self.worker
            m.lease_until = now + timedelta(seconds=self.settings.dispatch_lease_s)
            m.attempts += 1
        session.flush()
        bulk_insert(
            session,
            MessageAttempt,
            [
                {
                    "workspace_id": m.workspace_id,
                    "message_id": m.id,
                    "n": m.attempts,
                    "worker": self.worker,
                    "started_at": now,
                }
                for m in held
            ],
        )
        return [(m.workspace_id, m.id) for m in held]

    def _compose(self, session: Session, rows: Sequence[Message]) -> list[Outgoing]:
        """Build the held messages for their connectors (in a transaction of its own: a
        message whose composing kills the process has its attempt on record); one that
        cannot be built fails and gives its attempt back."""
        outgoing: list[Outgoing] = []
        untried: list[Message] = []
        memo: dict[tuple[int, str, int | None], Any] = {}
        for workspace_id, mine in sorted(_by_workspace(rows).items()):
            contacts = gate.people_of(session, workspace_id, mine)
            composer = compose.Composer(
                session,
                workspace_id,
                self.settings,
                contacts,
                {m.template_id for m in mine if m.template_id},
                {m.sender_id for m in mine if m.sender_id},
            )
            known = {c.id: c for c in contacts}
            for m in mine:
                try:
                    account = self.connectors.account_for(session, m, memo)
                    built = composer.build(m, known.get(m.contact_id or 0), m.to_address)
                except (compose.CannotSend, CannotSendHere) as exc:
                    m.status, m.reason, m.error = "failed", exc.code, str(exc)[:500]
                    untried.append(m)
                    continue
                except Exception as exc:  # an account whose settings no longer load …
                    log.warning("cannot send", extra={"message_id": m.id}, exc_info=True)
                    m.status, m.reason = "failed", "channel_account_unusable"
                    m.error = f"{type(exc).__name__}: {exc}"[:500]
                    untried.append(m)
                    continue
                m.to_address = built.to
                m.channel_account_id = account.id
                pace = f"{workspace_id}:{account.id}"
                if account.rate_per_s:
                    self.pacer.rates[pace] = account.rate_per_s
                else:
                    self.pacer.rates.pop(pace, None)
                outgoing.append(
                    Outgoing(
                        m.id,
                        workspace_id,
                        (workspace_id, account.id),
                        m.attempts,
                        built,
                        m.contact_id,
                        m.channel,
                        outbox.event_properties(m),
                    )
                )
        _give_back(session, untried)
        return outgoing

    async def _send_all(self, outgoing: list[Outgoing]) -> None:
        pending: list[Result] = []
        unsettled = {(out.workspace_id, out.message_id) for out in outgoing}
        groups: dict[tuple[int, int], list[Outgoing]] = {}
        for out in outgoing:
            groups.setdefault(out.account_key, []).append(out)
        recording = asyncio.Lock()

        async def flush() -> None:
            async with recording:
                batch = pending[:]
                pending.clear()
                await asyncio.to_thread(self._record, batch)
                unsettled.difference_update((r.out.workspace_id, r.out.message_id) for r in batch)

        async def one(connector: Connector, gate_: asyncio.Semaphore, out: Outgoing) -> None:
            async with gate_:
                _, wait = self.pacer.reserve("{}:{}".format(*out.account_key), float("inf"))
                if wait:
                    await asyncio.sleep(wait)
                try:
                    pending.append(Result(out, sent=await connector.send(out.outbound)))
                except Exception as exc:  # recorded per message; the round goes on
                    pending.append(Result(out, error=exc))
                if len(pending) >= RECORD_GROUP:
                    await flush()

        async def keep_leases() -> None:
            """A slow round (a throttled domain, a slow provider) keeps its messages: only a
            dispatcher that died lets their leases run out."""
            every = self.settings.dispatch_lease_s / 3
            while True:
                await asyncio.sleep(every)
                async with recording:  # never beside a record of the same rows: no deadlock
                    await asyncio.to_thread(self._renew, set(unsettled))

        tasks = []
        for key, outs in groups.items():
            connector = await self.connectors.opened(key)
            window = asyncio.Semaphore(max(1, connector.max_in_flight))
            tasks += [one(connector, window, out) for out in outs]
        renewing = asyncio.ensure_future(keep_leases())
        try:
            await asyncio.gather(*tasks)
            if pending:
                await flush()
        finally:
            renewing.cancel()

    def _renew(self, held: set[tuple[int, int]]) -> None:
        if not held:
            return
        until = self.clock() + timedelta(seconds=self.settings.dispatch_lease_s)
        table = cast(Table, Message.__table__)
        with transaction(self.factory) as session:
            session.execute(
                update(table)
                .where(
                    tuple_(table.c.workspace_id, table.c.id).in_(sorted(held)),
                    table.c.status == "sending",
                    table.c.claimed_by == self.worker,
                )
                .values(lease_until=until)
            )

    # -- recording ---------------------------------------------------------------------------

    def _record(self, results: list[Result]) -> None:
        now = self.clock()
        settled = [(r, *settle(r, now)) for r in results]
        with transaction(self.factory) as session:
            held = _settle_messages(
                session, self.worker, [(r.out, values) for r, values, _, _ in settled]
            )
            mine = [s for s in settled if (s[0].out.workspace_id, s[0].out.message_id) in held]
            _finish_attempts(
                session,
                now,
                [(r.out, outcome, detail) for r, _, outcome, detail in mine],
            )
            events: dict[int, list[Draft]] = {}
            for r, *_ in mine:
                out = r.out
                if r.sent is not None and out.contact_id:
                    events.setdefault(out.workspace_id, []).append(
                        Draft(
                            out.contact_id,
                            SENT_EVENT.get(out.channel, "message_out"),
                            now,
                            out.event,
                            channel=out.channel,
                            source="dispatcher",
                            key=f"sent:{out.message_id}",
                        )
                    )
            for workspace_id, drafts in events.items():
                events_service.store(session, workspace_id, drafts, now)


def _settle_messages(
    session: Session, worker: str, settled: Sequence[tuple[Outgoing, dict[str, Any]]]
) -> set[tuple[int, int]]:
    """Write each message's new values, fenced: only a message this dispatcher still holds
    (still ``sending``, claimed by ``worker``) changes — another took over one whose lease ran
    out. One statement per shape of values (a group is usually all sent: one); returns the
    messages written."""
    table = Message.__table__
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for out, new in settled:
        row = {"workspace_id": out.workspace_id, "id": out.message_id, **new}
        shapes.setdefault(tuple(sorted(new)), []).append(row)
    held: set[tuple[int, int]] = set()
    fence = (table.c.status == "sending", table.c.claimed_by == worker)
    for rows in shapes.values():
        held |= update_rows(session, Message, rows, ("workspace_id", "id"), fence)
    return held


def _finish_attempts(
    session: Session, now: datetime, finished: Sequence[tuple[Outgoing, str, str | None]]
) -> None:
    """Each attempt's outcome; a throttled one is deleted: nothing was tried, so it was not
    an attempt."""
    table = cast(Table, MessageAttempt.__table__)
    keys = ("workspace_id", "message_id", "n")
    rows = [
        {
            "workspace_id": out.workspace_id,
            "message_id": out.message_id,
            "n": out.attempt,
            "finished_at": now,
            "outcome": outcome,
            "detail": detail,
        }
        for out, outcome, detail in finished
    ]
    tried = [r for r in rows if r["outcome"] != "throttled"]
    if tried:
        update_rows(session, MessageAttempt, tried, keys)
    if untried := [tuple(r[k] for k in keys) for r in rows if r["outcome"] == "throttled"]:
        session.execute(delete(table).where(tuple_(*(table.c[k] for k in keys)).in_(untried)))


def settle(r: Result, now: datetime) -> tuple[dict[str, Any], str, str | None]:
    """What a send's result makes of its message: (new column values, attempt outcome,
    detail). A retry backs off; a throttled domain waits without counting an attempt."""
    out, error = r.out, r.error
    values: dict[str, Any] = {"lease_until": None, "claimed_by": None}
    if r.sent is not None:
        values |= {"status": "sent", "sent_at": now, "provider_id": r.sent.provider_id}
        return values | {"reason": None, "error": None}, "sent", None
    if isinstance(error, PermanentSendError):
        detail = str(error)[:500]
        return (
            values | {"status": "failed", "reason": error.code, "error": detail},
            "failed",
            detail,
        )
    if isinstance(error, RetryableSendError) and error.scope == "recipient_domain":
        due = now + timedelta(seconds=error.after_s)
        return (
            values | {"status": "queued", "due_at": due, "attempts": out.attempt - 1},
            "throttled",
            None,
        )
    detail = f"{type(error).__name__}: {error}"[:500]
    log.warning("send failed", extra={"message_id": out.message_id, "error": detail})
    values["error"] = detail
    if out.attempt >= MAX_ATTEMPTS:
        return values | {"status": "failed", "reason": "retries_exhausted"}, "failed", detail
    hint = error.after_s if isinstance(error, RetryableSendError) else None
    return (
        values | {"status": "queued", "due_at": now + backoff(out.attempt, hint)},
        "retry",
        detail,
    )
