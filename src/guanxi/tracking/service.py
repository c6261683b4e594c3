"""Web tracking: a workspace's site settings, events from its pages, and identifying visitors.

Visitors are contacts whose only identity is an anonymous id (the snippet's cookie); when a
page or a form says who they are, the identity service merges that anonymous contact into the
person (an identified contact survives), so the anonymous history moves onto their timeline.
A browser is stitched to the first person identified on it only: when someone else identifies
on the same browser (a shared computer) — their identity belongs to another contact, or is an
email or phone other than the one the browser's person has — they are resolved alone and the
snippet is told to start a new anonymous id, so two people are never merged on a cookie's word.
A new kind of identity (a phone given after an email) is added to the browser's person.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.contact.schemas import ContactFields
from guanxi.errors import GuanxiError, NotFound
from guanxi.event import catalogue, ingest, types
from guanxi.i18n import N_
from guanxi.identity import service as resolution
from guanxi.identity.rules import ANONYMOUS, Key, Kind, key
from guanxi.kit.secrets import new_token
from guanxi.models import TrackingSite
from guanxi.tracking.schemas import CollectIn, SitePatch

# What a web page may report; other types (orders, notes …) come from trusted integrations.
WEB_TYPES = frozenset({"page_view", "page_leave", "link_click", "content_open", "content_view"})


class InvalidOrigin(GuanxiError):
    status = 422
    code = "invalid_origin"
    message = N_("Not an origin (https://host[:port]): {value}")


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased, or None when it has none."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        default = {"http": 80, "https": 443}[parts.scheme]
        port = f":{parts.port}" if parts.port and parts.port != default else ""
    except ValueError:  # a port that is not a number
        return None
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def site(session: Session, workspace_id: int, now: datetime) -> TrackingSite:
    """The workspace's tracking site, made on first use."""
    row = session.get(TrackingSite, workspace_id)
    if row is None:
        row = TrackingSite(
            workspace_id=workspace_id,
            site_key=new_token(12)[:16],
            allowed_origins=[],
            created_at=now,
        )
        session.add(row)
        session.flush()
    return row


def site_by_key(session: Session, site_key: str) -> TrackingSite:
    row = session.scalar(select(TrackingSite).where(TrackingSite.site_key == site_key))
    if row is None:
        raise NotFound(resource=N_("Tracking site"))
    return row


def settings(session: Session, actor: Principal, now: datetime) -> TrackingSite:
    actor.require("workspace:read")
    return site(session, actor.workspace_id, now)


def update_settings(
    session: Session, actor: Principal, data: SitePatch, now: datetime
) -> TrackingSite:
    actor.require("workspace:write")
    origins = []
    for text in data.allowed_origins:
        origin = origin_of(text)
        if origin is None:
            raise InvalidOrigin(value=text)
        origins.append(origin)
    row = site(session, actor.workspace_id, now)
    row.allowed_origins = sorted(set(origins))
    session.flush()
    return row


def allowed(row: TrackingSite, origin: str | None, own: str) -> bool:
    """May a page of ``origin`` send events? guanxi's own pages (forms, content) always may."""
    if origin is None:
        return False
    found = origin_of(origin)
    return found is not None and (found == own or found in row.allowed_origins)


def collect(
    session: Session, row: TrackingSite, data: CollectIn, *, now: datetime
) -> list[ingest.Result]:
    """Store what the snippet sent (page views, leaves, clicks, content reads and the
    workspace's own types; other types come from trusted integrations only). Time is the
    server's (a visitor's clock may be anything); each event's random id is its idempotency key,
    so a resent beacon counts once."""
    own = types.specs(session, row.workspace_id, {e.type for e in data.events})
    raw = [
        {
            "type": e.type,
            "properties": e.properties,
            "anonymous_id": data.anonymous_id,
            "idempotency_key": f"web:{data.anonymous_id}:{e.id}",
            "channel": "web",
        }
        for e in data.events
        if e.type in WEB_TYPES or (e.type in own and e.type not in catalogue.BUILTIN)
    ]
    return ingest.ingest(session, row.workspace_id, raw, source="web", now=now)


def identify_visitor(
    session: Session,
    workspace_id: int,
    anonymous_id: str | None,
    keys: Sequence[Key],
    values: Mapping[str, Any],
    *,
    source: str,
    now: datetime,
) -> tuple[int, bool]:
    """Resolve the person ``keys`` name (email first, then phone) and stitch the browser's
    anonymous history to them. Returns (contact id, whether the browser must start a new
    anonymous id).

    What a public page says is not proof enough to merge two people guanxi already knows: when
    the identities given belong to two existing contacts, the first one's person is the visitor
    and the others' identities are left where they are."""
    anonymous = Key(Kind.anonymous_id, "", anonymous_id) if anonymous_id else None
    known = resolution.lookup(session, workspace_id, [*keys, anonymous] if anonymous else keys)
    named = list(dict.fromkeys(known[k] for k in keys if k in known))
    if len(named) > 1:
        keys = [k for k in keys if known.get(k, named[0]) == named[0]]
    everyone = [*keys, anonymous] if anonymous else list(keys)
    rotate = False
    if anonymous is not None and anonymous in known and keys:
        browser = known[anonymous]
        held = {
            k
            for k in resolution.identities_of(session, workspace_id, browser)
            if k.kind not in ANONYMOUS
        }
        others = {known[k] for k in keys if k in known} - {browser}
        # an email (say) other than the one the browser's person has: someone else
        differs = any(k not in held and k.kind in {h.kind for h in held} for k in keys)
        if held and (others or differs):
            everyone, rotate = list(keys), True
    if not everyone:
        raise NotFound(resource=N_("Contact"))
    found = resolution.resolve_racing(
        session, workspace_id, sorted(everyone), dict(values), source=source, now=now
    )
    return found.contact.id, rotate


def trait_keys(traits: ContactFields) -> list[Key]:
    out = []
    if traits.email:
        out.append(key("email", traits.email))
    if traits.phone:
        out.append(key("phone", traits.phone))
    return out
