"""The public endpoints web pages call: no sign-in, the site key names the workspace, and only
the workspace's allowed origins (and guanxi's own pages) may send. Robots are answered and
not recorded."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from guanxi.contact.schemas import ContactFields
from guanxi.errors import Forbidden, GuanxiError, NotFound
from guanxi.event import ingest
from guanxi.http.deps import DB
from guanxi.i18n import N_, Message
from guanxi.kit.clock import utcnow
from guanxi.models import TrackingSite
from guanxi.tracking import redirects, service
from guanxi.tracking.bots import is_bot
from guanxi.tracking.schemas import CollectIn, IdentifyWebIn
from guanxi.tracking.service import origin_of

router = APIRouter(include_in_schema=False)

# The smallest transparent GIF.
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


class OriginNotAllowed(Forbidden):
    code = "origin_not_allowed"
    message = N_("This site may not send events here: add its origin in Settings → Web tracking.")


class InvalidPayload(GuanxiError):
    status = 422
    code = "invalid_payload"
    message = N_("The request body is not valid: {reason}")


@cache
def _snippet_source() -> str:
    return (Path(__file__).parent / "snippet.js").read_text(encoding="utf-8")


def own_origin(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def cors(response: Response, origin: str | None) -> Response:
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


def _checked(request: Request, row: TrackingSite) -> str:
    origin = request.headers.get("origin")
    if not service.allowed(row, origin, own_origin(request)):
        raise OriginNotAllowed()
    return origin or ""


MAX_BODY = 64 * 1024  # what a page may send in one call; a form or a beacon is far smaller


class PayloadTooLarge(GuanxiError):
    status = 413
    code = "payload_too_large"
    message = N_("The request body is larger than {limit} KB.")


async def capped_body(request: Request) -> bytes:
    """The request body, at most 64 KB, read on the event loop (the routes that use it are plain
    functions: their database work runs in the thread pool, never on the event loop)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise PayloadTooLarge(limit=MAX_BODY // 1024)
    return body


Body = Annotated[bytes, Depends(capped_body)]


def json_body(body: bytes, model: type[Any]) -> Any:
    """The JSON a page sent, as text/plain for beacons (a simple request: no CORS preflight)."""
    try:
        return model.model_validate(json.loads(body))
    except (ValueError, RecursionError) as exc:
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else "JSON"
        raise InvalidPayload(reason=reason) from exc


@router.get("/t/{site_key}/g.js")
def snippet(site_key: str, request: Request, session: DB) -> Response:
    service.site_by_key(session, site_key)
    source = (
        _snippet_source().replace("__BASE__", own_origin(request)).replace("__SITE__", site_key)
    )
    return Response(
        source,
        media_type="application/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.options("/t/{site_key}/{action}")
def preflight(site_key: str, action: str, request: Request, session: DB) -> Response:
    row = service.site_by_key(session, site_key)
    origin = _checked(request, row)
    response = Response(status_code=204)
    response.headers["Access-Control-Allow-Methods"] = "POST, GET, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type, Accept-Language"
    response.headers["Access-Control-Max-Age"] = "86400"
    return cors(response, origin)


@router.post("/t/{site_key}/collect")
def collect(site_key: str, request: Request, session: DB, body: Body) -> Response:
    row = service.site_by_key(session, site_key)
    origin = _checked(request, row)
    data = json_body(body, CollectIn)
    if is_bot(request.headers.get("user-agent")):
        return cors(Response(status_code=204), origin)
    results = service.collect(session, row, data, now=utcnow())
    stored = sum(r.status == "accepted" for r in results)
    return cors(Response(json.dumps({"stored": stored}), media_type="application/json"), origin)


@router.post("/t/{site_key}/identify")
def identify(site_key: str, request: Request, session: DB, body: Body) -> Response:
    row = service.site_by_key(session, site_key)
    origin = _checked(request, row)
    data = json_body(body, IdentifyWebIn)
    if is_bot(request.headers.get("user-agent")):
        return cors(Response(status_code=204), origin)
    try:
        traits = ContactFields.model_validate(data.traits.model_dump(exclude_none=True))
    except ValidationError as exc:
        raise InvalidPayload(reason=exc.errors()[0]["msg"]) from exc
    keys = service.trait_keys(traits)
    if not keys:
        raise InvalidPayload(reason=Message(N_("traits need an email or a phone")))
    values = traits.model_dump(exclude_unset=True, exclude={"email", "phone", "custom"})
    _, rotate = service.identify_visitor(
        session, row.workspace_id, data.anonymous_id, keys, values, source="web", now=utcnow()
    )
    return cors(Response(json.dumps({"rotate": rotate}), media_type="application/json"), origin)


@router.get("/t/{site_key}/p.gif")
def pixel(
    site_key: str,
    request: Request,
    session: DB,
    aid: Annotated[str, Query(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
    url: Annotated[str, Query(max_length=2000)],
    title: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    """A page view from a page of an allowed origin that runs no script (an ``<img>``); the
    browser's Referer says which page (a request without one is answered, not recorded)."""
    row = service.site_by_key(session, site_key)
    referrer = request.headers.get("referer")
    fine = referrer is not None and service.allowed(row, origin_of(referrer), own_origin(request))
    if fine and not is_bot(request.headers.get("user-agent")):
        props = {"url": url, **({"title": title} if title else {})}
        ingest.ingest(
            session,
            row.workspace_id,
            [{"type": "page_view", "anonymous_id": aid, "properties": props, "channel": "web"}],
            source="pixel",
            now=utcnow(),
        )
    return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store, max-age=0"})


@router.get("/r/{token}")
def redirect(token: str, request: Request, session: DB) -> Response:
    """A tracked redirect: records a ``link_click`` for the contact the link was made for (if
    any) and sends the browser on to the target."""
    payload = redirects.verify(request.app.state.settings.secret_key, token)
    if payload is None or not isinstance(payload.get("u"), str):
        raise NotFound(resource=N_("Link"))
    target: str = payload["u"]
    contact = payload.get("c")
    if contact and not is_bot(request.headers.get("user-agent")):
        props: dict[str, Any] = {"url": target}
        if payload.get("m"):
            props["utm_campaign"] = payload["m"]
        ingest.ingest(
            session,
            int(payload["w"]),
            [
                {
                    "type": "link_click",
                    "contact_id": str(contact),
                    "properties": props,
                    "channel": "web",
                }
            ],
            source="redirect",
            now=utcnow(),
        )
    return RedirectResponse(target, status_code=302)
