"""The recipient's side of unsubscribing: the links in every message and the preference centre,
with no sign-in, no cookies and no script — the signed token in the path says who and where.

``POST /u/{token}`` unsubscribes: it is what a mail client's one-click button sends (RFC 8058:
the body ``List-Unsubscribe=One-Click``) and what the confirmation page's button sends.
``GET /u/{token}`` never does: mail scanners fetch every link of a message, so the page only
asks. A token that does not verify answers a 404 page and writes nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from guanxi.consent import links, service
from guanxi.consent.links import Unsubscribe
from guanxi.http.deps import DB
from guanxi.identity import service as identities
from guanxi.kit.clock import utcnow
from guanxi.models import Contact
from guanxi.web.render import page
from guanxi.web.session import PostedForm

router = APIRouter(include_in_schema=False)

ONE_CLICK = ("List-Unsubscribe", "One-Click")  # RFC 8058's body, as a form field
# the channel each identity kind (or profile field) reaches a contact on
_REACHED_BY = {
    "email": "email",
    "phone": "sms",
    "wecom_external_userid": "wecom",
    "wechat_openid": "wechat",
    "wechat_unionid": "wechat",
    "whatsapp": "whatsapp",
}


def _answer(response: HTMLResponse) -> HTMLResponse:
    """Personal pages: never cached by a proxy, never indexed."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _invalid(request: Request) -> HTMLResponse:
    return _answer(page(request, "consent/invalid.html", 404))


def _open(request: Request, session: Session, token: str) -> tuple[Unsubscribe, Contact] | None:
    """The token's facts and the person it names now, or None when either is missing."""
    found = links.read_token(request.app.state.settings.secret_key, token)
    if found is None:
        return None
    contact = service.person(session, found.workspace_id, found.contact_id)
    return None if contact is None else (found, contact)


def masked(address: str | None) -> str | None:
    """Enough of an address for its owner to recognise it: ``w***@example.cn``,
    ``+86138****5678``."""
    if not address:
        return None
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{address[:-8]}****{address[-4:]}" if len(address) > 8 else "****"


def _address(contact: Contact, channel: str) -> str | None:
    return masked(
        contact.email if channel == "email" else contact.phone if channel == "sms" else None
    )


def _channels(session: Session, contact: Contact, linked: str) -> list[str]:
    """The channels the preference centre offers: where the contact can be reached, where they
    gave consent, and the one the link came in — in the usual order."""
    kinds = {
        k.kind.value for k in identities.identities_of(session, contact.workspace_id, contact.id)
    }
    kinds |= {"email"} if contact.email else set()
    kinds |= {"phone"} if contact.phone else set()
    shown = {_REACHED_BY[k] for k in kinds if k in _REACHED_BY} | {linked}
    shown |= {c for c, row, _ in service.overview(session, contact.workspace_id, contact.id) if row}
    return [c for c in service.CHANNELS if c in shown]


def _context(found: Unsubscribe, contact: Contact, token: str) -> dict[str, Any]:
    return {
        "channel": service.CHANNEL_LABELS.get(found.channel, found.channel),
        "address": _address(contact, found.channel),
        "preferences_url": links.preferences_path(token),
    }


@router.get("/u/{token}", response_class=HTMLResponse)
def confirm(token: str, request: Request, session: DB) -> HTMLResponse:
    opened = _open(request, session, token)
    if opened is None:
        return _invalid(request)
    found, contact = opened
    subscribed = service.subscriptions(session, found.workspace_id, contact.id, [found.channel])[
        found.channel
    ]
    return _answer(
        page(
            request,
            "consent/unsubscribe.html",
            subscribed=subscribed,
            **_context(found, contact, token),
        )
    )


@router.post("/u/{token}", response_class=HTMLResponse)
def unsubscribe(token: str, request: Request, session: DB, form: PostedForm) -> HTMLResponse:
    """One-click from a mail client, or the confirmation page's button: opts the contact out of
    the link's channel (source ``list_unsubscribe`` or ``unsubscribe_link``)."""
    opened = _open(request, session, token)
    if opened is None:
        return _invalid(request)
    found, contact = opened
    one_click = form.get(ONE_CLICK[0]) == ONE_CLICK[1]
    service.unsubscribe(
        session,
        found.workspace_id,
        contact.id,
        [found.channel],
        source="list_unsubscribe" if one_click else "unsubscribe_link",
        message_id=found.message_id,
        now=utcnow(),
    )
    return _answer(page(request, "consent/unsubscribed.html", **_context(found, contact, token)))


def _preferences(
    request: Request, session: Session, found: Unsubscribe, contact: Contact, saved: bool
) -> HTMLResponse:
    channels = _channels(session, contact, found.channel)
    return _answer(
        page(
            request,
            "consent/preferences.html",
            channels=[
                (c, service.CHANNEL_LABELS[c], on)
                for c, on in service.subscriptions(
                    session, found.workspace_id, contact.id, channels
                ).items()
            ],
            address=masked(contact.email) or masked(contact.phone),
            saved=saved,
        )
    )


@router.get("/preferences/{token}", response_class=HTMLResponse)
def preferences(token: str, request: Request, session: DB) -> HTMLResponse:
    opened = _open(request, session, token)
    if opened is None:
        return _invalid(request)
    return _preferences(request, session, *opened, saved=False)


@router.post("/preferences/{token}", response_class=HTMLResponse)
def save_preferences(token: str, request: Request, session: DB, form: PostedForm) -> HTMLResponse:
    """The preference centre's form: a ticked box per channel the person wants marketing on,
    or ``all`` to unsubscribe from every channel (source ``preference_centre``)."""
    opened = _open(request, session, token)
    if opened is None:
        return _invalid(request)
    found, contact = opened
    common: dict[str, Any] = {
        "source": "preference_centre",
        "message_id": found.message_id,
        "now": utcnow(),
    }
    if form.get("all"):
        service.unsubscribe(session, found.workspace_id, contact.id, service.CHANNELS, **common)
    else:
        wanted = {c: form.get(c) == "on" for c in _channels(session, contact, found.channel)}
        service.set_subscriptions(session, found.workspace_id, contact.id, wanted, **common)
    return _preferences(request, session, found, contact, saved=True)
