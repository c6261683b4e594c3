"""Channel accounts: the ways a workspace sends (an SMTP server, a provider account, the
sandbox), with their credentials sealed at rest, and the dispatcher's cache of open connectors.

A connector's ``Config`` model says which settings it takes; the ones typed ``SecretStr`` are
kept sealed in ``ChannelAccount.secrets`` and never returned by the API. An account is not
deleted while something live still needs it (``in_use``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.channels.base import REGISTRY, Connector, secret_fields
from guanxi.errors import Conflict, NotFound, ValidationFailed
from guanxi.i18n import N_
from guanxi.journey import graph as g
from guanxi.kit.crypto import seal, unseal
from guanxi.models import Broadcast, ChannelAccount, Journey, JourneyVersion, Message

CHANNELS = ("email", "sms", "wecom", "wechat", "whatsapp")


class InvalidChannelConfig(ValidationFailed):
    code = "invalid_channel_config"
    message = N_("The channel settings are not valid: {reason}")


class UnknownConnector(ValidationFailed):
    code = "unknown_connector"
    message = N_("There is no connector named {kind}.")


class AccountInUse(Conflict):
    code = "in_use"
    message = N_("This channel account still has messages waiting to be sent.")


NOTHING_ELSE = {
    "messages": N_(
        "Messages are waiting to be sent on {channel} and no other enabled account sends it: "
        "add or turn on another account first."
    ),
    "broadcast": N_(
        "The broadcast {name} is being sent on {channel} and no other enabled account sends it: "
        "add or turn on another account first."
    ),
    "journey": N_(
        "The journey {name} sends {channel} messages and no other enabled account sends them: "
        "add or turn on another account first, or archive the journey."
    ),
}
LIVE = ("queued", "sending")
RUNNING = ("active", "paused")  # journeys whose published versions can still send


class CannotSendHere(Exception):
    """No enabled account can carry the message's channel (raised to the composer)."""

    code = "no_channel_account"


def split_config(
    kind: str, values: Mapping[str, Any], keep: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate ``values`` against the connector's Config; returns (plain, secret) settings. A
    secret left out (or empty) on an update keeps its stored value from ``keep``."""
    cls = REGISTRY.get(kind)
    if cls is None:
        raise UnknownConnector(kind=kind)
    secrets = set(secret_fields(cls.Config))
    merged = dict(values)
    for name in secrets:
        if not merged.get(name) and keep and keep.get(name):
            merged[name] = keep[name]
    try:
        cls.Config.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidChannelConfig(reason=f"{where}: {first['msg']}") from exc
    plain = {k: v for k, v in merged.items() if k not in secrets}
    hidden = {k: v for k, v in merged.items() if k in secrets and v}
    return plain, hidden


def sealed(secret_key: str, hidden: Mapping[str, Any]) -> str | None:
    return seal(secret_key, json.dumps(dict(hidden))) if hidden else None


def unsealed(secret_key: str, row: ChannelAccount) -> dict[str, Any]:
    return json.loads(unseal(secret_key, row.secrets)) if row.secrets else {}


def get(session: Session, actor: Principal, account_id: int) -> ChannelAccount:
    row = session.get(ChannelAccount, (actor.workspace_id, account_id))
    if row is None:
        raise NotFound(resource=N_("Channel account"))
    return row


def listed(session: Session, actor: Principal) -> list[ChannelAccount]:
    stmt = select(ChannelAccount).where(ChannelAccount.workspace_id == actor.workspace_id)
    return list(session.scalars(stmt.order_by(ChannelAccount.channel, ChannelAccount.name)))


def save(
    session: Session,
    actor: Principal,
    secret_key: str,
    now: datetime,
    *,
    row: ChannelAccount | None,
    channel: str,
    kind: str,
    name: str,
    config: Mapping[str, Any],
    is_default: bool,
    rate_per_s: float | None,
    enabled: bool,
) -> ChannelAccount:
    keep = unsealed(secret_key, row) if row is not None else None
    plain, hidden = split_config(kind, config, keep)
    if row is None:
        row = ChannelAccount(workspace_id=actor.workspace_id, created_at=now)
        session.add(row)
    row.channel, row.kind, row.name, row.config = channel, kind, name, plain
    row.secrets = sealed(secret_key, hidden)
    row.rate_per_s, row.enabled, row.updated_at = rate_per_s, enabled, now
    session.flush()
    if is_default or not _has_default(session, actor.workspace_id, channel, row.id):
        session.execute(
            update(ChannelAccount)
            .where(
                ChannelAccount.workspace_id == actor.workspace_id,
                ChannelAccount.channel == channel,
            )
            .values(is_default=ChannelAccount.id == row.id)
        )
        session.refresh(row)
    return row


def _has_default(session: Session, workspace_id: int, channel: str, other_than: int) -> bool:
    return (
        session.scalar(
            select(ChannelAccount.id).where(
                ChannelAccount.workspace_id == workspace_id,
                ChannelAccount.channel == channel,
                ChannelAccount.is_default.is_(True),
                ChannelAccount.id != other_than,
            )
        )
        is not None
    )


def delete(session: Session, actor: Principal, account_id: int) -> None:
    """Delete the account, refused (409 ``in_use``, nothing written) while something live
    depends on it (``in_use``)."""
    row = get(session, actor, account_id)
    refused = in_use(session, row)
    if refused is not None:
        raise refused
    session.delete(row)
    session.flush()


def in_use(session: Session, row: ChannelAccount) -> AccountInUse | None:
    """Why ``row`` cannot be deleted now, if it cannot. Nothing else names an account — a
    template, a broadcast, a journey's send step and the sending policy name a channel — so
    what depends on it is: messages waiting that it is sending, or that were handed to it
    (a retry); and, when it is the only enabled account of its channel, whatever is still to
    send on that channel: messages waiting, a broadcast being written, the published versions
    of a journey that is running or paused. An account turned off carries none of these."""
    ws, channel = row.workspace_id, row.channel
    pinned = select(Message.id).where(
        Message.workspace_id == ws,
        Message.channel_account_id == row.id,
        Message.status.in_(LIVE),
    )
    if session.scalar(pinned.limit(1)) is not None:
        return AccountInUse(details={"by": "messages"})
    if not row.enabled or _another_sends(session, row):
        return None
    waiting = select(Message.id).where(
        Message.workspace_id == ws, Message.channel == channel, Message.status.in_(LIVE)
    )
    if session.scalar(waiting.limit(1)) is not None:
        return AccountInUse(NOTHING_ELSE["messages"], channel=channel, details={"by": "messages"})
    broadcast = session.execute(
        select(Broadcast.id, Broadcast.name)
        .where(
            Broadcast.workspace_id == ws,
            Broadcast.channel == channel,
            Broadcast.status == "sending",
        )
        .order_by(Broadcast.id)
        .limit(1)
    ).first()
    if broadcast is not None:
        details = {"by": "broadcast", "id": str(broadcast.id)}
        return AccountInUse(
            NOTHING_ELSE["broadcast"], name=broadcast.name, channel=channel, details=details
        )
    journey = _journey_sending(session, ws, channel)
    if journey is not None:
        details = {"by": "journey", "id": str(journey[0])}
        return AccountInUse(
            NOTHING_ELSE["journey"], name=journey[1], channel=channel, details=details
        )
    return None


def _another_sends(session: Session, row: ChannelAccount) -> bool:
    """Whether another enabled account of the workspace sends on ``row``'s channel."""
    other = select(ChannelAccount.id).where(
        ChannelAccount.workspace_id == row.workspace_id,
        ChannelAccount.channel == row.channel,
        ChannelAccount.enabled.is_(True),
        ChannelAccount.id != row.id,
    )
    return session.scalar(other.limit(1)) is not None


def _journey_sending(session: Session, workspace_id: int, channel: str) -> tuple[int, str] | None:
    """(id, name) of a running or paused journey a published version of which sends on
    ``channel`` (its contacts may be on any version)."""
    versions = (
        select(Journey.id, Journey.name, JourneyVersion.graph)
        .join(
            JourneyVersion,
            (JourneyVersion.workspace_id == Journey.workspace_id)
            & (JourneyVersion.journey_id == Journey.id),
        )
        .where(Journey.workspace_id == workspace_id, Journey.status.in_(RUNNING))
        .order_by(Journey.id, JourneyVersion.version.desc())
    )
    for journey_id, name, raw in session.execute(versions):
        graph = g.Graph.model_validate(raw)
        if any(isinstance(n, g.SendNode) and n.channel == channel for n in graph.nodes):
            return journey_id, name
    return None


def default_for(session: Session, workspace_id: int, channel: str) -> ChannelAccount | None:
    return session.scalar(
        select(ChannelAccount)
        .where(
            ChannelAccount.workspace_id == workspace_id,
            ChannelAccount.channel == channel,
            ChannelAccount.enabled.is_(True),
        )
        .order_by(ChannelAccount.is_default.desc(), ChannelAccount.created_at)
        .limit(1)
    )


@dataclass
class _Entry:
    stamp: datetime
    connector: Connector
    opened: bool = False


class ConnectorCache:
    """The dispatcher's connectors, one per channel account, opened once and kept (with their
    connections) until the account changes."""

    def __init__(self, secret_key: str) -> None:
        self.secret_key = secret_key
        self.entries: dict[tuple[int, int], _Entry] = {}
        self.stale: list[Connector] = []

    def account_for(
        self, session: Session, message: Message, memo: dict[tuple[int, str, int | None], Any]
    ) -> ChannelAccount:
        """The enabled account that carries ``message`` (the one it names, else its channel's
        default), with its connector ready; ``memo`` keeps the answers of one round."""
        wanted = (message.workspace_id, message.channel, message.channel_account_id)
        if wanted not in memo:
            memo[wanted] = self._resolve(session, message)
        row: ChannelAccount | None = memo[wanted]
        if row is None:
            raise CannotSendHere(message.channel)
        return row

    def _resolve(self, session: Session, message: Message) -> ChannelAccount | None:
        row = None
        if message.channel_account_id is not None:
            row = session.get(ChannelAccount, (message.workspace_id, message.channel_account_id))
            row = row if row is not None and row.enabled else None
        row = row or default_for(session, message.workspace_id, message.channel)
        if row is None:
            return None
        key = (row.workspace_id, row.id)
        entry = self.entries.get(key)
        if entry is None or entry.stamp != row.updated_at:
            if entry is not None and entry.opened:
                self.stale.append(entry.connector)
            cls = REGISTRY[row.kind]
            config = cls.Config.model_validate(row.config | unsealed(self.secret_key, row))
            self.entries[key] = _Entry(row.updated_at, cls(config))
        return row

    async def opened(self, key: tuple[int, int]) -> Connector:
        for old in self.stale:
            await old.close()
        self.stale.clear()
        entry = self.entries[key]
        if not entry.opened:
            await entry.connector.open()
            entry.opened = True
        return entry.connector

    async def close_all(self) -> None:
        for entry in self.entries.values():
            if entry.opened:
                await entry.connector.close()
        for old in self.stale:
            await old.close()
        self.entries.clear()
        self.stale.clear()
