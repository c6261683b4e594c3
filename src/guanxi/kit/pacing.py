"""Pacing sends: how long to wait before the next one under a rate per key."""

from __future__ import annotations

import time
from collections.abc import Mapping


class Pacer:
    """Token buckets per key (a recipient domain, a channel account), as a generic cell rate
    algorithm: each key keeps the time its next token is due, which needs no timer task and no
    lock (there is no await between reading and writing it). A bucket holds one second's worth
    of tokens. Keys without a rate of their own take ``default`` (None: no limit)."""

    _PRUNE_AT = 10_000  # keys remembered before the idle ones are forgotten

    def __init__(self, rates: Mapping[str, float], default: float | None) -> None:
        self.rates = {k.lower(): rate for k, rate in rates.items()}
        self.default = default
        self._due: dict[str, float] = {}

    def reserve(self, key: str, max_wait: float) -> tuple[bool, float]:
        """(True, seconds to wait) with a token taken for ``key``; or (False, seconds until
        one could be had within ``max_wait``), nothing taken."""
        rate = self.rates.get(key, self.default)
        if rate is None:
            return True, 0.0
        interval = 1.0 / rate
        burst = max(rate, 1.0) * interval  # one second's tokens, at least one
        now = time.monotonic()
        due = max(self._due.get(key, now), now)
        wait = due + interval - burst - now
        if wait > max_wait:
            return False, wait - max_wait
        if len(self._due) >= self._PRUNE_AT:
            self._due = {k: t for k, t in self._due.items() if t > now}
        self._due[key] = due + interval
        return True, max(wait, 0.0)
