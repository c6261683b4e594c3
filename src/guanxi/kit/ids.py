"""Time-ordered 63-bit ids generated in the application.

Layout: 41 bits of milliseconds since 2025-01-01 UTC, 10 bits of node, 12 bits of sequence.
Ids made by the application (not by a database sequence) let a bulk import write rows with COPY
without asking the database for keys, keep every key ``(workspace_id, id)`` for sharding, and sort
by creation time. The node is random per process; two processes collide only if they draw the
same node and the same millisecond and sequence, which the primary key would then refuse.
The API shows ids as decimal strings, since JavaScript numbers hold only 53 bits.
"""

from __future__ import annotations

import os
import secrets
import threading
import time

EPOCH_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
MAX_ID = 2**63 - 1  # the largest BIGINT: ids and anything compared with them stay below it
_NODE_BITS = 10
_SEQ_BITS = 12
_SEQ_MASK = (1 << _SEQ_BITS) - 1


class _Generator:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.node = secrets.randbelow(1 << _NODE_BITS)
        self.pid = os.getpid()
        self.last_ms = 0
        self.seq = 0

    def take(self, n: int) -> list[int]:
        """``n`` consecutive ids under one lock (a bulk load asks for thousands at a time).
        More than 4,096 in one millisecond borrow the milliseconds ahead."""
        with self._lock:
            if os.getpid() != self.pid:  # forked worker: draw a new node
                self._reset()
            now = int(time.time() * 1000) - EPOCH_MS
            if now <= self.last_ms:  # same ms, or the clock stepped back: keep counting
                now, seq = self.last_ms, self.seq + 1
            else:
                seq = 0
            node = self.node << _SEQ_BITS
            ids: list[int] = []
            while True:
                if seq > _SEQ_MASK:
                    now, seq = now + 1, 0
                count = min(n - len(ids), _SEQ_MASK + 1 - seq)
                prefix = (now << (_NODE_BITS + _SEQ_BITS)) | node
                ids.extend(range(prefix + seq, prefix + seq + count))
                seq += count
                if len(ids) == n:
                    break
            self.last_ms, self.seq = now, seq - 1
            return ids


_generator = _Generator()


def new_id() -> int:
    return _generator.take(1)[0]


def new_ids(n: int) -> list[int]:
    return _generator.take(n) if n > 0 else []
