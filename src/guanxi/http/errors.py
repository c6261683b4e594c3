"""One error shape for every failure, and its declaration in the OpenAPI document.

``{"error": {"code": str, "message": str, "details": any}}``: the code is stable, the message is
in the caller's language. Every API route declares the error statuses it can answer; they are
derived from what the route depends on (authentication, path ids, parameters, pagination), and a
route adds its own (409 …) with ``errors(...)``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.utils import create_model_field
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from guanxi.errors import GuanxiError, InvalidValue
from guanxi.http.deps import language_of
from guanxi.i18n import N_, Language, Message, gettext

log = logging.getLogger("guanxi.errors")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    error: ErrorBody


_DESCRIPTIONS = {
    400: "Bad request (`invalid_body`, `invalid_cursor`, `invalid_sort`, …)",
    401: "Not authenticated (`not_authenticated`, `invalid_api_key`, `invalid_credentials`)",
    403: "Not allowed (`forbidden`, `insufficient_scope`, `csrf_failed`)",
    404: "Not found in this workspace (`not_found`)",
    409: "Conflict with the current state (`already_exists`, `in_use`, `conflict`, …)",
    422: "Invalid parameters or body (`validation_error`, `invalid_value`)",
}

_HTTP_CODES = {
    400: ("invalid_body", N_("The request body could not be read: send valid JSON in UTF-8.")),
    404: ("not_found", N_("This address does not exist.")),
    405: ("method_not_allowed", N_("This method is not allowed here.")),
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Declare extra error statuses on a route: ``responses=errors(409)``."""
    return {s: {"model": ErrorResponse, "description": _DESCRIPTIONS[s]} for s in statuses}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(body, status_code=status, headers=headers)


def _console_page(request: Request, status: int, message: str) -> Response | None:
    """Console paths get an HTML error page (from the renderer ``web`` registers)."""
    renderer = getattr(request.app.state, "render_error", None)
    if renderer is not None and request.url.path.startswith("/app"):
        return renderer(request, status, message)  # type: ignore[no-any-return]
    return None


def render(exc: GuanxiError, language: Language) -> str:
    params = {
        k: v.render(language)
        if isinstance(v, Message)
        else gettext(v, language)
        if isinstance(v, str)
        else v
        for k, v in exc.params.items()
    }
    text = gettext(exc.text, language)
    return text.format(**params) if params else text


async def on_guanxi_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GuanxiError)
    message = render(exc, language_of(request))
    html = _console_page(request, exc.status, message)
    if html is not None:
        return html
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_response(exc.status, exc.code, message, exc.details, headers)


def reason_of(error: Mapping[str, Any], language: Language) -> str:
    """Our own validators' reasons in the caller's language; Pydantic's own as it words them."""
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, InvalidValue):
        return cause.message.render(language)
    return str(error.get("msg"))


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    language = language_of(request)
    details = [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": reason_of(e, language),
            "type": e.get("type"),
        }
        for e in exc.errors()
    ]
    message = gettext(N_("Some fields are not valid."), language)
    html = _console_page(request, 422, message)
    if html is not None:
        return html
    return error_response(422, "validation_error", message, details)


async def on_database_refusal(request: Request, exc: Exception) -> Response:
    """A constraint the database enforces (a concurrent duplicate) or a value it cannot store
    (a NUL character, a number out of range): the caller's input, so 409 or 422, never 500."""
    if isinstance(exc, IntegrityError):
        status, code = 409, "conflict"
        text = N_("The request conflicts with the current state.")
    else:
        status, code = 422, "invalid_value"
        text = N_("A value cannot be stored (out of range, or a character such as NUL).")
    log.info("database refused the request", extra={"error": type(exc.__cause__ or exc).__name__})
    message = gettext(text, language_of(request))
    html = _console_page(request, status, message)
    if html is not None:
        return html
    return error_response(status, code, message)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code, text = _HTTP_CODES.get(exc.status_code, (f"http_{exc.status_code}", str(exc.detail)))
    message = gettext(text, language_of(request))
    html = _console_page(request, exc.status_code, message)
    if html is not None:
        return html
    return error_response(
        exc.status_code, code, message, None, dict(exc.headers) if exc.headers else None
    )


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    log.exception("unhandled error", extra={"request_id": request_id})
    message = gettext(
        N_("Something went wrong on our side. The team can trace it by the request id."),
        language_of(request),
    )
    return error_response(
        500,
        "internal_error",
        message,
        {"request_id": request_id},
        {"X-Request-ID": request_id} if request_id else None,
    )


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GuanxiError, on_guanxi_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(IntegrityError, on_database_refusal)
    app.add_exception_handler(DataError, on_database_refusal)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


def _depends_on(route: APIRoute, name: str) -> bool:
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if getattr(dependant.call, "__name__", None) == name:
            return True
        stack.extend(dependant.dependencies)
    return False


def _has_params(route: APIRoute) -> bool:
    stack = [route.dependant]
    while stack:
        d = stack.pop()
        if d.path_params or d.query_params or d.body_params or d.header_params:
            return True
        stack.extend(d.dependencies)
    return False


def declare_error_responses(router: APIRouter) -> APIRouter:
    """Add the error statuses each route of ``router`` can answer to its OpenAPI responses.

    Call before ``include_router``: the app builds its routes from the router's at inclusion.
    """
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        statuses: set[int] = set()
        if _depends_on(route, "caller"):
            statuses |= {401, 403}
        if route.dependant.path_params:
            statuses.add(404)
        if _has_params(route):
            statuses.add(422)
        if _depends_on(route, "list_params") or route.body_field is not None:
            statuses.add(400)
        if (route.methods or set()) - {"GET", "HEAD"}:
            statuses |= {409, 422}  # a concurrent duplicate; a value the database cannot store
        for status, spec in errors(*sorted(statuses)).items():
            if status in route.responses:
                continue
            route.responses[status] = spec
            route.response_fields[status] = create_model_field(
                name=f"Response_{status}_{route.unique_id}",
                type_=ErrorResponse,
                mode="serialization",
            )
    return router
