from __future__ import annotations

import time

import pytest

from guanxi.kit import ids as ids_module
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


@pytest.mark.parametrize("node", [0, 1, 1023])
def test_blocks_of_ids_cross_milliseconds_without_repeating(
    node: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ids_module._generator, "node", node)
    ids = [*new_ids(10_000), new_id(), *new_ids(5_000), *new_ids(1)]
    assert len(set(ids)) == len(ids) == 15_002
    assert ids == sorted(ids)
    assert {(i >> 12) & 1023 for i in ids} == {node}
    assert new_ids(0) == []
