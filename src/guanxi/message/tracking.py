"""Email open and click tracking: signed tokens in the pixel and in every rewritten link, and the
two public endpoints they lead to. Nothing is stored ahead: the token names the message (and,
for a click, the target), signed, so the redirect can never send anyone where no email did.

An open records ``email_opened`` (at most once a minute per message: a mail client that loads
the pixel again and again is one reader); a click records ``email_clicked`` and, when the
pixel was blocked, the open it implies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from guanxi.errors import NotFound
from guanxi.event import service as events
from guanxi.event.records import Draft
from guanxi.http.deps import DB
from guanxi.i18n import N_
from guanxi.kit.clock import utcnow
from guanxi.message.outbox import event_properties
from guanxi.models import Message
from guanxi.tracking import redirects
from guanxi.tracking.bots import is_bot
from guanxi.tracking.public import PIXEL

router = APIRouter(include_in_schema=False)


def open_token(secret: str, workspace_id: int, message_id: int) -> str:
    return redirects.sign(secret, {"p": "o", "w": workspace_id, "g": message_id})


def click_token(secret: str, workspace_id: int, message_id: int, url: str) -> str:
    return redirects.sign(secret, {"p": "c", "w": workspace_id, "g": message_id, "u": url})


def _read(secret: str, token: str, purpose: str) -> dict[str, Any] | None:
    payload = redirects.verify(secret, token)
    if payload is None or payload.get("p") != purpose:
        return None
    if not isinstance(payload.get("w"), int) or not isinstance(payload.get("g"), int):
        return None
    return payload


def _message(session: Session, payload: dict[str, Any]) -> Message | None:
    return session.get(Message, (payload["w"], payload["g"]))


def opened(session: Session, message: Message, now: datetime) -> None:
    if message.contact_id is None:
        return
    message.opened_at = message.opened_at or now
    minute = now.strftime("%Y%m%d%H%M")
    draft = Draft(
        message.contact_id,
        "email_opened",
        now,
        event_properties(message),
        channel="email",
        source="pixel",
        key=f"open:{message.id}:{minute}",
    )
    events.store(session, message.workspace_id, [draft], now)


def clicked(session: Session, message: Message, url: str, now: datetime) -> None:
    if message.contact_id is None:
        return
    if message.opened_at is None:
        opened(session, message, now)
    message.clicked_at = message.clicked_at or now
    draft = Draft(
        message.contact_id,
        "email_clicked",
        now,
        {**event_properties(message), "url": url},
        channel="email",
        source="click",
    )
    events.store(session, message.workspace_id, [draft], now)


@router.get("/e/o/{token}.gif")
def open_pixel(token: str, request: Request, session: DB) -> Response:
    payload = _read(request.app.state.settings.secret_key, token, "o")
    message = _message(session, payload) if payload else None
    if message is not None and not is_bot(request.headers.get("user-agent")):
        opened(session, message, utcnow())
    return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store, max-age=0"})


@router.get("/e/c/{token}")
def click(token: str, request: Request, session: DB) -> Response:
    payload = _read(request.app.state.settings.secret_key, token, "c")
    if payload is None or not isinstance(payload.get("u"), str):
        raise NotFound(resource=N_("Link"))
    message = _message(session, payload)
    if message is not None and not is_bot(request.headers.get("user-agent")):
        clicked(session, message, payload["u"], utcnow())
    return RedirectResponse(payload["u"], status_code=302)
