"""Channel accounts: the ways a workspace sends (an SMTP server, a provider account, the
sandbox), with their credentials sealed at rest, and the dispatcher's cache of open connectors.

A connector's ``Config`` model says which settings it takes; the ones typed ``SecretStr`` are
kept sealed in ``ChannelAccount.secrets`` and never returned by the API.
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
from guanxi.kit.crypto import seal, unseal
from guanxi.models import ChannelAccount, Message

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
    row = get(session, actor, account_id)
    waiting = session.scalar(
        select(Message.id)
        .where(
            Message.workspace_id == actor.workspace_id,
            Message.channel_account_id == row.id,
            Message.status.in_(("queued", "sending")),
        )
        .limit(1)
    )
    if waiting is not None:
        raise AccountInUse()
    session.delete(row)
    session.flush()


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
