"""Telling robots from people by their user agent, pure. Crawlers, link previewers, monitoring
and scripted clients are not visitors: their hits are answered and not recorded."""

from __future__ import annotations

import re

_BOT = re.compile(
    r"bot|crawl|spider|slurp|baiduspider|yisouspider|sogou|bytespider|headless|phantomjs"
    r"|lighthouse|pingdom|uptime|monitor|preview|facebookexternalhit|embedly|python-requests"
    r"|python-httpx|aiohttp|curl/|wget|go-http-client|okhttp|java/|libwww|httpclient|scrapy",
    re.IGNORECASE,
)


def is_bot(user_agent: str | None) -> bool:
    """True for robots and for requests that name no user agent at all."""
    return not user_agent or bool(_BOT.search(user_agent))
