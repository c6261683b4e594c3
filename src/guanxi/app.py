"""The ASGI application: REST API under /api/v1, console under /app, health and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from guanxi import __version__
from guanxi.account.api import router as account_router
from guanxi.auth.api import router as auth_router
from guanxi.config import Settings, get_settings
from guanxi.consent.api import router as consent_router
from guanxi.consent.public import router as consent_public
from guanxi.contact.api import router as contact_router
from guanxi.content.api import router as content_router
from guanxi.content.public import router as content_public
from guanxi.db import make_engine, make_sessionmaker
from guanxi.event.api import router as event_router
from guanxi.form.api import router as form_router
from guanxi.form.public import router as form_public
from guanxi.http import errors, health, telemetry
from guanxi.importer.api import router as import_router
from guanxi.journey.api import router as journey_router
from guanxi.kit import collector
from guanxi.lifecycle.api import router as lifecycle_router
from guanxi.message.api import router as message_router
from guanxi.message.tracking import router as message_public
from guanxi.notification.api import router as notification_router
from guanxi.scoring.api import router as scoring_router
from guanxi.segment.api import router as segment_router
from guanxi.tag.api import router as tag_router
from guanxi.tracking.api import router as tracking_router
from guanxi.tracking.public import router as tracking_public
from guanxi.web import mount as mount_console
from guanxi.webhook.api import router as webhook_router
from guanxi.workspace.api import router as workspace_router

API_PREFIX = "/api/v1"

DESCRIPTION = """
The guanxi REST API. Authenticate with `Authorization: Bearer gx_…` (an API key from
*Settings → API keys*) or with the session cookie of `POST /api/v1/auth/login` (then send the
returned `csrf_token` as `X-CSRF-Token` on writes).

Lists return `{"items": [...], "next_cursor": …}`: pass `cursor=<next_cursor>` for the next page,
`limit` (1–200) for its size and `sort=field` or `sort=-field` for the order. Errors are always
`{"error": {"code", "message", "details"}}` with a stable `code`; messages follow
`Accept-Language` (zh-CN or en). Ids are decimal strings.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    collector.tune()  # in each of uvicorn's worker processes too
    settings = settings or get_settings()
    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="guanxi",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)

    errors.install_handlers(app)
    telemetry.install(app)
    app.include_router(health.router)
    for router in (
        auth_router,
        workspace_router,
        contact_router,
        content_router,
        account_router,
        event_router,
        form_router,
        import_router,
        notification_router,
        tag_router,
        scoring_router,
        lifecycle_router,
        segment_router,
        tracking_router,
        consent_router,
        webhook_router,
        journey_router,
        message_router,
    ):
        app.include_router(errors.declare_error_responses(router), prefix=API_PREFIX)
    app.include_router(tracking_public)
    app.include_router(form_public)
    app.include_router(content_public)
    app.include_router(consent_public)
    app.include_router(message_public)
    mount_console(app)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/app", status_code=307)

    return app
