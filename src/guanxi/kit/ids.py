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

    def next(self) -> int:
        with self._lock:
            if os.getpid() != self.pid:  # forked worker: draw a new node
                self._reset()
            now = int(time.time() * 1000) - EPOCH_MS
            if now < self.last_ms:  # clock stepped back: keep counting from the last ms
                now = self.last_ms
            if now == self.last_ms:
                self.seq = (self.seq + 1) & _SEQ_MASK
                if self.seq == 0:
                    now = self.last_ms + 1
            else:
                self.seq = 0
            self.last_ms = now
            return (now << (_NODE_BITS + _SEQ_BITS)) | (self.node << _SEQ_BITS) | self.seq


_generator = _Generator()


def new_id() -> int:
    return _generator.next()


def new_ids(n: int) -> list[int]:
    return [_generator.next() for _ in range(n)]
