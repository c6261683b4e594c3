"""Console shell: sign in and out, home, invitations, language and workspace switches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from guanxi.auth import service as auth
from guanxi.auth import users
from guanxi.errors import CsrfFailed, GuanxiError
from guanxi.http.deps import DB, LANGUAGE_COOKIE, SESSION_COOKIE, set_session_cookie
from guanxi.http.errors import render
from guanxi.i18n import Language, parse_language
from guanxi.kit.clock import utcnow
from guanxi.kit.schema import Id
from guanxi.kit.secrets import new_token, same
from guanxi.web.nav import MODULES
from guanxi.web.render import language_of, page
from guanxi.web.session import ConsoleDep
from guanxi.workspace import members

router = APIRouter()

# The sign-in form has no session yet: a double-submit cookie keeps other sites from signing a
# visitor in to an account of theirs (login CSRF).
LOGIN_CSRF_COOKIE = "guanxi_login_csrf"
YEAR = 365 * 86400


def safe_next(target: str | None) -> str:
    """Only local console paths: never redirect to another site after sign-in."""
    if target and target.startswith("/app") and not target.startswith("//"):
        return target
    return "/app"


def _login_page(
    request: Request, status: int, next: str, error: str | None, email: str
) -> HTMLResponse:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_token(24)
    response = page(
        request,
        "login.html",
        status,
        next=safe_next(next),
        error=error,
        email=email,
        login_csrf=token,
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/app")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_page(request, 200, next or "/app", None, "")


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: DB,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=256)],
    login_csrf: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/app",
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    try:
        if not cookie or not same(cookie, login_csrf):
            raise CsrfFailed()
        user = users.authenticate(session, email, password)
        token, _ = auth.start_session(
            session, user, None, utcnow(), request.app.state.settings.session_days
        )
    except GuanxiError as exc:
        return _login_page(request, exc.status, next, render(exc, language_of(request)), email)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(request, response, token)
    chosen = parse_language(request.cookies.get(LANGUAGE_COOKIE))
    if chosen:  # picked on the sign-in page: remember it on the login too
        user.language = chosen
    elif saved := parse_language(user.language):
        response.set_cookie(LANGUAGE_COOKIE, saved, max_age=YEAR, samesite="lax")
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
    invitations = members.invitations_of(console.session, console.user.id)
    return page(
        request,
        "home.html",
        console=console,
        modules=MODULES,
        active="home",
        invitations=invitations,
    )


@router.post("/invitations/{workspace_id}")
def answer_invitation(
    console: ConsoleDep, workspace_id: Id, accept: Annotated[bool, Form()]
) -> RedirectResponse:
    members.answer_invitation(console.session, console.user.id, workspace_id, accept=accept)
    return RedirectResponse("/app", status_code=303)


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
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=YEAR, samesite="lax")
    return response


@router.post("/workspace")
def switch_workspace(console: ConsoleDep, workspace_id: Annotated[Id, Form()]) -> RedirectResponse:
    auth.switch_workspace(console.session, console.context, workspace_id, utcnow())
    return RedirectResponse("/app", status_code=303)
