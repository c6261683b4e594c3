"""The sending rules for marketing messages, pure: quiet hours in the contact's own timezone and
frequency caps per channel and overall. Transactional messages are held by neither.

The dispatcher applies them at send time (not when a journey writes the message), so a message
that waited in the outbox is judged by the rules and the history of the moment it would go.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

ALL = "all"  # a cap on every channel together


@dataclass(frozen=True)
class Cap:
    channel: str  # a channel name or ALL
    count: int
    days: int


@dataclass(frozen=True)
class Policy:
    quiet_start: time | None = None
    quiet_end: time | None = None
    caps: tuple[Cap, ...] = ()

    @classmethod
    def of(
        cls, quiet_start: str | None, quiet_end: str | None, caps: Iterable[dict[str, object]]
    ) -> Policy:
        return cls(
            _clock(quiet_start),
            _clock(quiet_end),
            tuple(Cap(str(c["channel"]), int(str(c["count"])), int(str(c["days"]))) for c in caps),
        )


def _clock(text: str | None) -> time | None:
    if not text:
        return None
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def quiet(policy: Policy, at: datetime, tz: ZoneInfo) -> bool:
    """Whether ``at`` falls in the quiet hours (which may run over midnight: 21:00–08:00)."""
    start, end = policy.quiet_start, policy.quiet_end
    if start is None or end is None or start == end:
        return False
    local = at.astimezone(tz).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_allowed(policy: Policy, at: datetime, tz: ZoneInfo) -> datetime:
    """``at`` itself when it is outside the quiet hours, else the moment they end (in UTC)."""
    if not quiet(policy, at, tz) or policy.quiet_end is None:
        return at
    local = at.astimezone(tz)
    end = datetime.combine(local.date(), policy.quiet_end, tzinfo=tz)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), policy.quiet_end, tzinfo=tz)
    # a wall-clock time that a DST change skipped resolves forward; zoneinfo folds it for us
    return end.astimezone(at.tzinfo)


def over_cap(
    policy: Policy, channel: str, sent: Sequence[tuple[str, datetime]], now: datetime
) -> Cap | None:
    """The first cap another marketing message on ``channel`` would break, given the contact's
    marketing messages already sent or on their way (channel, time); None when it may go."""
    for cap in policy.caps:
        if cap.channel not in (ALL, channel):
            continue
        since = now - timedelta(days=cap.days)
        used = sum(1 for ch, at in sent if at > since and (cap.channel == ALL or ch == cap.channel))
        if used >= cap.count:
            return cap
    return None
