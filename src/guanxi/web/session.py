"""Who is using the console: the session cookie, CSRF on every form, a redirect to sign in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from guanxi.auth import service as auth
from guanxi.auth.principal import Principal
from guanxi.errors import NotAuthenticated
from guanxi.http.deps import DB, SAFE_METHODS, signed_in
from guanxi.models import User, Workspace
from guanxi.notification import service as notifications
from guanxi.workspace import members


class LoginRequired(Exception):
    """Raised by console routes without a valid session; answered by a redirect to sign in."""


async def on_login_required(request: Request, exc: Exception) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/app/login?next={quote(target)}", status_code=303)


@dataclass(frozen=True)
class Console:
    principal: Principal
    user: User
    workspace: Workspace
    workspaces: list[Workspace]
    context: auth.SessionContext
    session: Session

    @property
    def csrf_token(self) -> str:
        return self.context.record.csrf_token

    @property
    def unread(self) -> int:
        """Unread notifications, for the bell in the top bar."""
        return notifications.unread_count(self.session, self.principal)


async def csrf_form_token(request: Request) -> str | None:
    """The CSRF token of a console write: the htmx header or the form field."""
    if request.method in SAFE_METHODS:
        return None
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    form = await request.form()
    value = form.get("csrf_token")
    return value if isinstance(value, str) else None


def console(
    request: Request, session: DB, csrf: Annotated[str | None, Depends(csrf_form_token)]
) -> Console:
    try:
        context = signed_in(request, session, csrf)
    except NotAuthenticated as exc:
        raise LoginRequired() from exc
    workspaces = list(members.workspaces_of(session, context.user.id))
    workspace = next(w for w in workspaces if w.id == context.principal.workspace_id)
    return Console(context.principal, context.user, workspace, workspaces, context, session)


ConsoleDep = Annotated[Console, Depends(console, scope="function")]


async def posted_form(request: Request) -> FormData:
    """The posted form, read on the event loop, so that the route itself can be a plain
    function: database work must run in the thread pool, never on the event loop (a request
    waiting there for a lock would stop the one holding it from committing)."""
    return await request.form()


PostedForm = Annotated[FormData, Depends(posted_form)]
