"""The public side of forms: the hosted page, the definition a page draws, and submitting."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from guanxi.form import service
from guanxi.form.schemas import Accepted, SubmissionIn
from guanxi.http.deps import DB
from guanxi.kit.clock import utcnow
from guanxi.tracking import service as tracking
from guanxi.tracking.public import Body, OriginNotAllowed, cors, json_body, own_origin
from guanxi.web.render import page

router = APIRouter(include_in_schema=False)
AnonymousId = Annotated[str | None, Query(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def _origin(request: Request, workspace_id: int, session: DB) -> str | None:
    """The caller's origin when it may use this workspace's forms, else None."""
    origin = request.headers.get("origin")
    row = tracking.site(session, workspace_id, utcnow())
    return origin if tracking.allowed(row, origin, own_origin(request)) else None


@router.get("/f/{public_key}.json")
def definition(
    public_key: str, request: Request, session: DB, anonymous_id: AnonymousId = None
) -> Response:
    form = service.by_key(session, public_key)
    data = service.public_form(session, form, anonymous_id)
    return cors(JSONResponse(data.model_dump()), _origin(request, form.workspace_id, session))


@router.post("/f/{public_key}")
def submit(public_key: str, request: Request, session: DB, body: Body) -> Response:
    form = service.by_key(session, public_key)
    request.state.language = form.language  # answers and refusals speak the form's language
    origin = _origin(request, form.workspace_id, session)
    if origin is None:
        raise OriginNotAllowed()
    data: SubmissionIn = json_body(body, SubmissionIn)
    ip = service.ip_hash(
        request.app.state.settings.secret_key, request.client.host if request.client else None
    )
    rotate, _ = service.submit(
        session,
        form,
        data.values,
        anonymous_id=data.anonymous_id,
        context=data.context,
        ip=ip,
        now=utcnow(),
    )
    redirect = form.settings.get("redirect_url")
    answer = Accepted(message=service.thank_you(form), redirect_url=redirect, rotate=rotate)
    return cors(JSONResponse(answer.model_dump()), origin)


@router.get("/f/{public_key}", response_class=HTMLResponse)
def hosted(public_key: str, request: Request, session: DB) -> HTMLResponse:
    """The form's own page: the tracking snippet draws the form, so the page view, the UTM tags
    and the anonymous history all count as on any page of the site."""
    form = service.by_key(session, public_key)
    row = tracking.site(session, form.workspace_id, utcnow())
    request.state.language = form.language
    return page(request, "forms/hosted.html", form=form, site_key=row.site_key)
