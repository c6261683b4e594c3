"""Unsubscribe links, pure: a signed token names the workspace, the contact, the channel and
(when it came in one) the message, so ``/u/{token}`` and ``/preferences/{token}`` need no
sign-in and store nothing ahead. The token is signed for its own purpose: a tracked-redirect
token cannot stand in for it, nor it for one. Tokens do not expire — a link in a mail read a
year later must still stop the next one."""

from __future__ import annotations

from dataclasses import dataclass

from guanxi.tracking import redirects

PURPOSE = "unsubscribe"


@dataclass(frozen=True)
class Unsubscribe:
    workspace_id: int
    contact_id: int
    channel: str
    message_id: int | None


def unsubscribe_token(
    secret: str, workspace_id: int, contact_id: int, channel: str, message_id: int | None
) -> str:
    payload: dict[str, int | str] = {"w": workspace_id, "c": contact_id, "ch": channel}
    if message_id is not None:
        payload["m"] = message_id
    return redirects.sign(secret, payload, PURPOSE)


def read_token(secret: str, token: str) -> Unsubscribe | None:
    """What an unsubscribe token this secret signed says, or None (forged, altered, other)."""
    payload = redirects.verify(secret, token, PURPOSE)
    if payload is None:
        return None
    w, c, ch, m = payload.get("w"), payload.get("c"), payload.get("ch"), payload.get("m")
    if type(w) is not int or type(c) is not int or not isinstance(ch, str):
        return None
    if m is not None and type(m) is not int:
        return None
    return Unsubscribe(w, c, ch, m)


def preferences_path(token: str) -> str:
    return f"/preferences/{token}"
