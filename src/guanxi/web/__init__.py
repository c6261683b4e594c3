"""The console under /app: server-rendered Jinja2 pages with htmx, in zh-CN and en."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from guanxi.web import (
    broadcast_pages,
    channel_pages,
    contact_forms,
    crm_pages,
    event_pages,
    import_pages,
    journey_pages,
    lifecycle_pages,
    message_pages,
    pages,
    scoring_pages,
    segment_pages,
    settings_pages,
    suppression_pages,
    tag_pages,
    template_pages,
    webhook_pages,
)
from guanxi.web.render import page
from guanxi.web.session import LoginRequired, on_login_required

STATIC = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")
    app.include_router(pages.router, prefix="/app", include_in_schema=False)
    app.include_router(settings_pages.router, prefix="/app/settings", include_in_schema=False)
    # the forms first: /contacts/new is not a contact id
    app.include_router(contact_forms.router, prefix="/app", include_in_schema=False)
    app.include_router(crm_pages.router, prefix="/app", include_in_schema=False)
    app.include_router(import_pages.router, prefix="/app", include_in_schema=False)
    app.include_router(event_pages.router, prefix="/app", include_in_schema=False)
    app.include_router(suppression_pages.router, prefix="/app", include_in_schema=False)
    app.include_router(webhook_pages.router, prefix="/app", include_in_schema=False)
    app.include_router(journey_pages.router, prefix="/app", include_in_schema=False)
    for segments in (
        tag_pages,
        scoring_pages,
        lifecycle_pages,
        segment_pages,
    ):  # the segments module
        app.include_router(segments.router, prefix="/app", include_in_schema=False)
    for messaging in (template_pages, message_pages, broadcast_pages, channel_pages):
        app.include_router(messaging.router, prefix="/app", include_in_schema=False)
    app.add_exception_handler(LoginRequired, on_login_required)
    app.state.render_error = render_error


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    return page(request, "error.html", status, status=status, message=message)
