"""Webhook tests post to receivers on this machine (tests/webhook/receiver.py), which the
installation refuses unless told: ``app`` here allows the loopback networks, as a developer's
installation would (``GUANXI_WEBHOOK_ALLOWED_NETWORKS``); ``strict_app`` is the default one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from guanxi.app import create_app
from guanxi.config import Settings
from tests.webhook.helpers import LOOPBACK
from tests.webhook.receiver import Receiver


def _app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture(scope="package")
def app(settings: Settings) -> Iterator[FastAPI]:
    """An installation whose webhooks may reach this machine."""
    yield from _app(settings.model_copy(update={"webhook_allowed_networks": LOOPBACK}))


@pytest.fixture(scope="package")
def strict_app(settings: Settings) -> Iterator[FastAPI]:
    """An installation as it comes: webhooks reach public addresses only."""
    assert settings.webhook_allowed_networks == []
    yield from _app(settings)


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver
