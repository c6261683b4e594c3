"""Touches, pure: what in an event counts as a marketing touch, for first/last-touch attribution.

A touch is where a contact came from: a campaign (UTM), a channel code (a QR code or a WeCom
"contact me" code), an outside referrer, a follow, a form. A page view whose referrer is the same
site is navigation inside a visit, not a touch.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
TOUCH_TYPES = frozenset(
    {
        "page_view",
        "link_click",
        "form_submit",
        "qr_scan",
        "follow",
        "wecom_friend_added",
        "content_open",
    }
)


def _host(url: Any) -> str:
    if not isinstance(url, str):
        return ""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def touch_of(
    type: str, channel: str | None, properties: Mapping[str, Any], occurred_at: datetime
) -> dict[str, Any] | None:
    """The touch an event makes, as stored on the contact, or None when it makes none."""
    utm = {k: str(properties[k])[:200] for k in UTM_KEYS if properties.get(k)}
    code = properties.get("channel_code")
    referrer = properties.get("referrer")
    if not utm and not code:
        if type not in TOUCH_TYPES:
            return None
        if (
            type == "page_view"
            and _host(referrer)
            and _host(referrer) == _host(properties.get("url"))
        ):
            return None
    touch: dict[str, Any] = {"at": occurred_at.isoformat(), "type": type, **utm}
    if channel:
        touch["channel"] = channel
    if code:
        touch["channel_code"] = str(code)[:64]
    if referrer and _host(referrer) != _host(properties.get("url")):
        touch["referrer"] = str(referrer)[:500]
    if properties.get("url"):
        touch["url"] = str(properties["url"])[:500]
    return touch


def _at(touch: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(touch["at"])


def first(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    """The earlier of two touches (either may be missing); the first one given on a tie."""
    if a is None or b is None:
        return a or b
    return b if _at(b) < _at(a) else a


def last(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    """The later of two touches; the second one given on a tie (the newer report)."""
    if a is None or b is None:
        return a or b
    return a if _at(a) > _at(b) else b
