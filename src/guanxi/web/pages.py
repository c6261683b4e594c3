"""Console shell: sign in and out, home, language and workspace switches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from guanxi.auth import service as auth
from guanxi.errors import GuanxiError
from guanxi.http.deps import DB, LANGUAGE_COOKIE, SESSION_COOKIE
from guanxi.http.errors import render
from guanxi.i18n import LANGUAGES, Language
from guanxi.kit.clock import utcnow
from guanxi.web.nav import MODULES
from guanxi.web.render import language_of, page
from guanxi.web.session import ConsoleDep

router = APIRouter()


def safe_next(target: str | None) -> str:
    """Only local console paths: never redirect to another site after sign-in."""
    if target and target.startswith("/app") and not target.startswith("//"):
        return target
    return "/app"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return page(request, "login.html", next=safe_next(next), error=None, email="")


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: DB,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=2000)] = "/app",
) -> Response:
    try:
        user = auth.authenticate(session, email, password)
        token, _ = auth.start_session(
            session, user, None, utcnow(), request.app.state.settings.session_days
        )
    except GuanxiError as exc:
        message = render(exc, language_of(request))
        return page(request, "login.html", 401, next=safe_next(next), error=message, email=email)
    response = RedirectResponse(safe_next(next), status_code=303)
    settings = request.app.state.settings
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )
    if user.language in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, user.language, max_age=365 * 86400, samesite="lax")
    return response


@router.post("/logout")
def logout(request: Request, console: ConsoleDep) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        auth.end_session(console.session, token)
    response = RedirectResponse("/app/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("", response_class=HTMLResponse)
def home(request: Request, console: ConsoleDep) -> HTMLResponse:
    return page(request, "home.html", console=console, modules=MODULES, active="home")


@router.post("/language")
def set_language(
    request: Request,
    session: DB,
    language: Annotated[Language, Form()],
    next: Annotated[str, Form(max_length=2000)] = "/app",
    csrf_token: Annotated[str | None, Form(max_length=128)] = None,
) -> RedirectResponse:
    """Remember the language in a cookie and, when signed in (with the form's CSRF token), on
    the user. The sign-in page has no session: there the cookie alone remembers it."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            context = auth.resume_session(session, token, utcnow())
        except GuanxiError:
            context = None
        if context is not None and auth.check_csrf(context, csrf_token):
            context.user.language = language
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86400, samesite="lax")
    return response


@router.post("/workspace")
def switch_workspace(console: ConsoleDep, workspace_id: Annotated[int, Form()]) -> RedirectResponse:
    auth.switch_workspace(console.session, console.context, workspace_id)
    return RedirectResponse("/app", status_code=303)
