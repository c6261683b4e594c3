"""Routes for tracking settings (site key, allowed origins, the snippet) and tracked links."""

from __future__ import annotations

from fastapi import APIRouter, Request

from guanxi.contact import service as contacts
from guanxi.http.deps import DB, Actor
from guanxi.http.errors import errors
from guanxi.kit.clock import utcnow
from guanxi.models import TrackingSite
from guanxi.tracking import redirects, service
from guanxi.tracking.public import own_origin
from guanxi.tracking.schemas import RedirectIn, RedirectOut, SiteOut, SitePatch

router = APIRouter(tags=["tracking"])


def snippet_html(base: str, site_key: str) -> str:
    """What a site puts before ``</head>``: a stub that queues calls until the script loads."""
    return (
        "<script>window.guanxi=window.guanxi||{q:[]};"
        '["track","identify","form","page"].forEach(function(m){'
        "window.guanxi[m]=window.guanxi[m]||function(){window.guanxi.q.push([m,arguments])}});"
        "</script>\n"
        f'<script async src="{base}/t/{site_key}/g.js"></script>'
    )


def _out(request: Request, row: TrackingSite) -> SiteOut:
    return SiteOut(
        site_key=row.site_key,
        allowed_origins=row.allowed_origins,
        snippet=snippet_html(own_origin(request), row.site_key),
    )


@router.get("/tracking", response_model=SiteOut)
def get_settings(request: Request, actor: Actor, session: DB) -> SiteOut:
    """The workspace's site key and the snippet to put on its pages."""
    return _out(request, service.settings(session, actor, utcnow()))


@router.put("/tracking", response_model=SiteOut)
def put_settings(data: SitePatch, request: Request, actor: Actor, session: DB) -> SiteOut:
    """Set the origins whose pages may send events (CORS allow-list)."""
    return _out(request, service.update_settings(session, actor, data, utcnow()))


@router.post(
    "/tracking/redirects", response_model=RedirectOut, status_code=201, responses=errors(404)
)
def make_redirect(data: RedirectIn, request: Request, actor: Actor, session: DB) -> RedirectOut:
    """A tracked link to ``url``: each click through it is a ``link_click`` of ``contact_id``
    (when given) before the browser goes on."""
    actor.require("contacts:read")
    payload: dict[str, object] = {"w": actor.workspace_id, "u": str(data.url)}
    if data.contact_id is not None:
        payload["c"] = contacts.get(session, actor, data.contact_id).id
    if data.campaign:
        payload["m"] = data.campaign
    token = redirects.sign(request.app.state.settings.secret_key, payload)
    return RedirectOut(url=f"{own_origin(request)}/r/{token}")
