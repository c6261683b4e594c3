"""FastAPI dependencies: the request's transaction, its language and who is calling.

The database session dependency is the edge that commits: it commits after the route returns
and before the response is sent (``scope="function"``), and rolls back when the route raises.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from guanxi.auth import service as auth
from guanxi.auth.principal import Principal
from guanxi.errors import CsrfFailed, NotAuthenticated
from guanxi.i18n import Language, negotiate, parse_language
from guanxi.kit.clock import utcnow

SESSION_COOKIE = "guanxi_session"
LANGUAGE_COOKIE = "guanxi_lang"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _finish(session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


async def db(request: Request) -> AsyncIterator[Session]:
    """``db.transaction`` for a request: async, so that opening the session (no I/O) costs no
    hop through the thread pool; the commit or rollback runs there, in one hop."""
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_finish, session, False)
        raise
    await run_in_threadpool(_finish, session, True)


DB = Annotated[Session, Depends(db, scope="function")]


def pick_language(request: Request) -> tuple[Language, bool]:
    """The reply's language and whether the caller chose it (``?lang=`` or the cookie).

    Without a choice, Accept-Language decides; a signed-in user's saved language wins over it.
    """
    default: Language = request.app.state.settings.default_language
    chosen = parse_language(request.query_params.get("lang")) or parse_language(
        request.cookies.get(LANGUAGE_COOKIE)
    )
    if chosen:
        return chosen, True
    return negotiate(request.headers.get("accept-language"), default), False


def language_of(request: Request) -> Language:
    """The language picked for this request (by the telemetry middleware, then the caller)."""
    return getattr(request.state, "language", request.app.state.settings.default_language)  # type: ignore[no-any-return]


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    settings = request.app.state.settings
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


def signed_in(request: Request, session: Session, csrf: str | None) -> auth.SessionContext:
    """The session of the cookie: writes must carry its CSRF token; the user's saved language
    applies unless the caller chose one."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise NotAuthenticated()
    context = auth.resume_session(session, cookie, utcnow())
    if request.method not in SAFE_METHODS and not auth.check_csrf(context, csrf):
        raise CsrfFailed()
    saved = parse_language(context.user.language)
    if saved and not getattr(request.state, "language_chosen", False):
        request.state.language = saved
    return context


@dataclass(frozen=True)
class Caller:
    principal: Principal
    session_context: auth.SessionContext | None


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def caller(request: Request, session: DB) -> Caller:
    """Authenticate by bearer API key, else by session cookie (with CSRF for writes)."""
    token = _bearer(request)
    if token is not None:
        return Caller(auth.authenticate_api_key(session, token, utcnow()), None)
    context = signed_in(request, session, request.headers.get(CSRF_HEADER))
    return Caller(context.principal, context)


CallerDep = Annotated[Caller, Depends(caller, scope="function")]


async def principal(c: CallerDep) -> Principal:
    # async: no I/O here, and a sync dependency would cost a hop through the thread pool
    return c.principal


Actor = Annotated[Principal, Depends(principal, scope="function")]


@dataclass(frozen=True)
class ListParams:
    limit: int
    cursor: str | None
    sort: str | None


async def list_params(
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page.")
    ] = None,
    sort: Annotated[
        str | None, Query(max_length=64, description="A field, or -field for descending.")
    ] = None,
) -> ListParams:
    return ListParams(limit=limit, cursor=cursor, sort=sort)


Listing = Annotated[ListParams, Depends(list_params)]
