"""Fixtures for console and tracking tests in a real browser: a live server on a free port,
and a Chromium page (Debian's, through Playwright)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, sync_playwright

# Headless Chromium says "HeadlessChrome", which web tracking rightly ignores as a robot: the
# browser presents itself as the desktop Chrome a visitor would use (the context's user agent
# does not reach beacons sent while a page unloads, hence the command-line switch too).
DESKTOP_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
CHROMIUM = os.environ.get("GUANXI_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--user-agent={DESKTOP_UA}",  # also for beacons sent while a page unloads
]


@pytest.fixture
def page(live_server: str) -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            locale="en-US",
            viewport={"width": 1280, "height": 800},
            base_url=live_server,
            user_agent=DESKTOP_UA,
        )
        yield context.new_page()
        context.close()
        browser.close()
