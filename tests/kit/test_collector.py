"""The server's processes run with the collector's raised thresholds."""

from __future__ import annotations

import gc

from guanxi.app import create_app
from guanxi.config import Settings
from guanxi.kit import collector


def test_the_app_raises_the_collectors_thresholds(settings: Settings) -> None:
    gc.set_threshold(700, 10, 10)
    try:
        create_app(settings)
        assert gc.get_threshold() == collector.THRESHOLDS
    finally:
        collector.tune()
