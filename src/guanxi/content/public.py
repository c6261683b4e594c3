"""The reader's side of a tracked link: the article page (or the hop to an outside page) and
the report the page sends when the reader leaves."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from guanxi.content import service
from guanxi.content.schemas import ReadIn
from guanxi.http.deps import DB
from guanxi.kit.clock import utcnow
from guanxi.kit.secrets import new_token
from guanxi.tracking.bots import is_bot
from guanxi.tracking.public import Body, json_body
from guanxi.web.render import page

router = APIRouter(include_in_schema=False)
COOKIE = "gx_aid"  # the same cookie the tracking snippet keeps on a site
YEAR2 = 63_072_000


@router.get("/c/{code}")
def open_link(code: str, request: Request, session: DB) -> Response:
    row, content = service.by_code(session, code)
    aid = request.cookies.get(COOKIE) or new_token(16).replace("-", "x")[:32]
    if not is_bot(request.headers.get("user-agent")):
        service.opened(session, row, content, aid, utcnow())
    if content.url:
        response: Response = RedirectResponse(content.url, status_code=302)
    else:
        paragraphs = [p.strip() for p in (content.body or "").split("\n\n") if p.strip()]
        response = page(
            request,
            "content/article.html",
            content=content,
            paragraphs=paragraphs,
            code=code,
        )
    response.set_cookie(COOKIE, aid, max_age=YEAR2, samesite="lax")
    return response


@router.post("/c/{code}/read")
def read(code: str, request: Request, session: DB, body: Body) -> Response:
    row, _ = service.by_code(session, code)
    data: ReadIn = json_body(body, ReadIn)
    if not is_bot(request.headers.get("user-agent")):
        service.read(session, row, data.anonymous_id, data.dwell_s, data.completion, utcnow())
    return Response(status_code=204)
