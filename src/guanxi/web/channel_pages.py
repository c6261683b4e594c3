"""Console screens for channel settings: the channel accounts a workspace sends through (the
administrators' — ``channels:write`` — since they hold credentials; every member may look) and
the sending policy for marketing messages (quiet hours, frequency caps, channels that need an
opt-in; ``messages:write``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from guanxi.channels.base import REGISTRY
from guanxi.errors import GuanxiError
from guanxi.kit.clock import utcnow
from guanxi.kit.schema import Id
from guanxi.message import accounts, service
from guanxi.message.schemas import AccountIn, PolicyIn
from guanxi.models import ChannelAccount
from guanxi.web import channel_form
from guanxi.web.message_words import CHANNELS, words
from guanxi.web.nav import MODULES
from guanxi.web.render import failure, page
from guanxi.web.session import Console, ConsoleDep, PostedForm

router = APIRouter()

CAP_ROWS = 3  # empty cap rows offered below the caps already set
CAP_CHANNELS = ("all", *CHANNELS)


def _text(data: FormData, name: str) -> str:
    return str(data.get(name) or "").strip()


def _key(request: Request) -> str:
    return str(request.app.state.settings.secret_key)


def _context(console: Console, tab: str) -> dict[str, Any]:
    return {
        "console": console,
        "modules": MODULES,
        "active": "channels",
        "tab": tab,
        **words(),
    }


# -- the accounts ----------------------------------------------------------------------------


def _list(
    request: Request, console: Console, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    console.principal.require("channels:read")
    return page(
        request,
        "settings/channels.html",
        status_code,
        rows=accounts.listed(console.session, console.principal),
        connectors=sorted(REGISTRY),
        can_write=console.principal.can("channels:write"),
        error=error,
        **_context(console, "accounts"),
    )


def _form(
    request: Request,
    console: Console,
    row: ChannelAccount | None,
    *,
    kind: str,
    head: dict[str, Any],
    config: dict[str, Any],
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The account's form: its own fields (``head``) and its connector's settings."""
    settings = channel_form.settings_of(kind)
    return page(
        request,
        "settings/channels_account.html",
        status_code,
        row=row,
        kind=kind,
        head=head,
        settings=settings,
        values=channel_form.shown(settings, config),
        secrets_set=set(accounts.unsealed(_key(request), row)) if row is not None else set(),
        prefix=channel_form.PREFIX,
        can_write=console.principal.can("channels:write"),
        error=error,
        **_context(console, "accounts"),
    )


def _head(row: ChannelAccount) -> dict[str, Any]:
    return {
        "name": row.name,
        "channel": row.channel,
        "rate_per_s": row.rate_per_s,
        "is_default": row.is_default,
        "enabled": row.enabled,
    }


def _posted_head(data: FormData) -> dict[str, Any]:
    return {
        "name": _text(data, "name"),
        "channel": _text(data, "channel"),
        "rate_per_s": _text(data, "rate_per_s") or None,
        "is_default": bool(data.get("is_default")),
        "enabled": bool(data.get("enabled")),
    }


def _save(
    request: Request,
    console: Console,
    row: ChannelAccount | None,
    kind: str,
    head: dict[str, Any],
    config: dict[str, Any],
) -> ChannelAccount:
    console.principal.require("channels:write")
    wanted = AccountIn.model_validate({**head, "kind": kind, "config": config})
    return accounts.save(
        console.session,
        console.principal,
        _key(request),
        utcnow(),
        row=row,
        **wanted.model_dump(),
    )


def _submit(
    request: Request, console: Console, row: ChannelAccount | None, kind: str, data: FormData
) -> Response:
    """Save the posted form; refused, the form again with what was typed (secrets aside)."""
    head = _posted_head(data)
    config: dict[str, Any] = {}
    try:
        config = channel_form.posted(channel_form.settings_of(kind), data)
        channel_form.check(config)
        _save(request, console, row, kind, head, config)
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        if row is not None:
            row = accounts.get(console.session, console.principal, row.id)
        refused = failure(request, exc)
        return _form(request, console, row, kind=kind, head=head, config=config, **refused)
    return RedirectResponse("/app/settings/channels", status_code=303)


@router.get("/settings/channels", response_class=HTMLResponse)
def account_list(request: Request, console: ConsoleDep) -> HTMLResponse:
    return _list(request, console)


@router.get("/settings/channels/new", response_class=HTMLResponse)
def new_account(
    request: Request, console: ConsoleDep, kind: str = "sandbox", channel: str = "email"
) -> HTMLResponse:
    console.principal.require("channels:write")
    channel = channel if channel in CHANNELS else "email"
    head = {
        "name": "",
        "channel": channel,
        "rate_per_s": None,
        "is_default": False,
        "enabled": True,
    }
    return _form(request, console, None, kind=kind, head=head, config={})


@router.post("/settings/channels", response_class=HTMLResponse)
def create_account(request: Request, console: ConsoleDep, data: PostedForm) -> Response:
    console.principal.require("channels:write")
    return _submit(request, console, None, _text(data, "kind"), data)


# -- the sending policy (before /settings/channels/{id}) -------------------------------------


def _policy_page(
    request: Request,
    console: Console,
    *,
    current: dict[str, Any] | None = None,
    saved: bool = False,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    if current is None:
        row = service.policy(console.session, console.principal)
        current = {
            "quiet_start": row.quiet_start or "",
            "quiet_end": row.quiet_end or "",
            "caps": list(row.caps or []),
            "opt_in_channels": list(row.opt_in_channels or []),
        }
    blank = {"channel": "all", "count": "", "days": ""}
    return page(
        request,
        "settings/channels_policy.html",
        status_code,
        current=current,
        cap_rows=[*current["caps"], *[blank] * CAP_ROWS],
        cap_channels=CAP_CHANNELS,
        can_write=console.principal.can("messages:write"),
        saved=saved,
        error=error,
        **_context(console, "policy"),
    )


@router.get("/settings/channels/policy", response_class=HTMLResponse)
def policy(request: Request, console: ConsoleDep, saved: str = "") -> HTMLResponse:
    return _policy_page(request, console, saved=bool(saved))


@router.post("/settings/channels/policy", response_class=HTMLResponse)
def save_policy(request: Request, console: ConsoleDep, data: PostedForm) -> Response:
    """Cap rows with neither a count nor days are left out."""
    caps = [
        {"channel": str(c), "count": str(n).strip(), "days": str(d).strip()}
        for c, n, d in zip(
            data.getlist("cap_channel"),
            data.getlist("cap_count"),
            data.getlist("cap_days"),
            strict=False,
        )
        if str(n).strip() or str(d).strip()
    ]
    current = {
        "quiet_start": _text(data, "quiet_start"),
        "quiet_end": _text(data, "quiet_end"),
        "caps": caps,
        "opt_in_channels": [str(c) for c in data.getlist("opt_in_channels")],
    }
    try:
        wanted = PolicyIn.model_validate(
            {
                **current,
                "quiet_start": current["quiet_start"] or None,
                "quiet_end": current["quiet_end"] or None,
            }
        )
        service.set_policy(console.session, console.principal, wanted.model_dump(), utcnow())
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return _policy_page(request, console, current=current, **failure(request, exc))
    return RedirectResponse("/app/settings/channels/policy?saved=1", status_code=303)


# -- one account -----------------------------------------------------------------------------


@router.get("/settings/channels/{channel_account_id}", response_class=HTMLResponse)
def account_view(request: Request, console: ConsoleDep, channel_account_id: Id) -> HTMLResponse:
    console.principal.require("channels:read")
    row = accounts.get(console.session, console.principal, channel_account_id)
    return _form(request, console, row, kind=row.kind, head=_head(row), config=dict(row.config))


@router.post("/settings/channels/{channel_account_id}", response_class=HTMLResponse)
def save_account(
    request: Request, console: ConsoleDep, channel_account_id: Id, data: PostedForm
) -> Response:
    console.principal.require("channels:write")
    row = accounts.get(console.session, console.principal, channel_account_id)
    return _submit(request, console, row, row.kind, data)


def _change(request: Request, console: Console, channel_account_id: int, **change: Any) -> Response:
    """Turn an account on or off, or make it its channel's default, its settings as stored."""
    console.principal.require("channels:write")
    row = accounts.get(console.session, console.principal, channel_account_id)
    try:
        _save(request, console, row, row.kind, _head(row) | change, dict(row.config))
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return _list(request, console, **failure(request, exc))
    return RedirectResponse("/app/settings/channels", status_code=303)


@router.post("/settings/channels/{channel_account_id}/enabled", response_class=HTMLResponse)
def enable_account(
    request: Request, console: ConsoleDep, channel_account_id: Id, data: PostedForm
) -> Response:
    return _change(request, console, channel_account_id, enabled=data.get("enabled") == "1")


@router.post("/settings/channels/{channel_account_id}/default", response_class=HTMLResponse)
def make_default(request: Request, console: ConsoleDep, channel_account_id: Id) -> Response:
    return _change(request, console, channel_account_id, is_default=True)


@router.post("/settings/channels/{channel_account_id}/delete", response_class=HTMLResponse)
def delete_account(request: Request, console: ConsoleDep, channel_account_id: Id) -> Response:
    """Refused (409) while messages wait to go through the account."""
    console.principal.require("channels:write")
    try:
        accounts.delete(console.session, console.principal, channel_account_id)
    except GuanxiError as exc:
        console.session.rollback()
        return _list(request, console, **failure(request, exc))
    return RedirectResponse("/app/settings/channels", status_code=303)
