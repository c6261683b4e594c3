from __future__ import annotations

import time

from guanxi.kit.ids import EPOCH_MS, MAX_ID, new_id, new_ids


def test_ids_are_unique_increasing_and_fit_63_bits() -> None:
    ids = new_ids(20_000)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(0 < i <= MAX_ID for i in ids)


def test_ids_carry_their_creation_time() -> None:
    before = int(time.time() * 1000) - EPOCH_MS
    ms = new_id() >> 22
    after = int(time.time() * 1000) - EPOCH_MS
    assert before - 1 <= ms <= after + 4096  # a burst may borrow a few ms ahead
