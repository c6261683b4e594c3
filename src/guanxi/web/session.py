"""Who is using the console: the session cookie, CSRF on every form, a redirect to sign in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from guanxi.auth import repository as auth_repo
from guanxi.auth import service as auth
from guanxi.auth.principal import Principal
from guanxi.errors import CsrfFailed, GuanxiError
from guanxi.http.deps import DB, SAFE_METHODS, SESSION_COOKIE
from guanxi.i18n import parse_language
from guanxi.kit.clock import utcnow
from guanxi.models import User, Workspace


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
    request: Request,
    session: DB,
    csrf: Annotated[str | None, Depends(csrf_form_token)],
) -> Console:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise LoginRequired()
    try:
        context = auth.resume_session(session, cookie, utcnow())
    except GuanxiError as exc:
        raise LoginRequired() from exc
    if request.method not in SAFE_METHODS and not auth.check_csrf(context, csrf):
        raise CsrfFailed()
    saved = parse_language(context.user.language)
    if saved and not request.state.language_chosen:
        request.state.language = saved
    workspaces = list(auth_repo.workspaces_of(session, context.user.id))
    workspace = next(w for w in workspaces if w.id == context.principal.workspace_id)
    return Console(context.principal, context.user, workspace, workspaces, context, session)


ConsoleDep = Annotated[Console, Depends(console, scope="function")]
