"""The cyclic garbage collector, tuned for guanxi's processes.

A batch of events allocates hundreds of thousands of short-lived objects (rows, drafts,
profiles); with CPython's default first-generation threshold of 700 the collector runs every
few hundred of them and walks the young ones each time. Raising the threshold to 10,000 gave
15–25% more events per second through the reactor pipeline (50,000 contacts on PostgreSQL,
settings alternated in one process; docs/benchmarks.md, "ingest") — about what switching the
collector off gives — while cycles are still collected.
"""

from __future__ import annotations

import gc

THRESHOLDS = (10_000, 10, 10)


def tune() -> None:
    """Set the collector's thresholds for this process (the server's, the worker's, the CLI's)."""
    gc.set_threshold(*THRESHOLDS)
