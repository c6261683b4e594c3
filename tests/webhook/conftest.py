"""A webhook receiver for every test here (tests/webhook/receiver.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.webhook.receiver import Receiver


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver
