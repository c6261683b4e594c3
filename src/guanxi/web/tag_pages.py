"""Console screens for tags: the tag manager (groups, tags with holder counts, auto-tag rules)
and the tags section of a contact's 360° page, loaded and changed in place with htmx."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from guanxi.contact import service as contacts
from guanxi.errors import GuanxiError, NotFound
from guanxi.event import catalogue
from guanxi.i18n import N_
from guanxi.kit.clock import utcnow
from guanxi.kit.schema import Id
from guanxi.tag import automation
from guanxi.tag import service as tags
from guanxi.tag.schemas import TagGroupIn, TagGroupPatch, TagIn, TagPatch, TagRuleIn
from guanxi.web.nav import MODULES
from guanxi.web.render import failure, page
from guanxi.web.session import Console, ConsoleDep, PostedForm

router = APIRouter()

TYPE_LABELS = {
    "basic": N_("Basic"),
    "fact": N_("Fact"),
    "model": N_("Model"),
    "predicted": N_("Predicted"),
}
TRIGGER_LABELS = {
    "event": N_("Event"),
    "code": N_("Channel code scanned"),
    "content": N_("Content viewed"),
}
FILTER_OPS = ("eq", "ne", "contains", "gt", "gte", "lt", "lte")


def _text(data: FormData, name: str) -> str:
    return str(data.get(name) or "").strip()


def _all_tags(console: Console) -> list[Any]:
    """Every tag the member may use with its holder count (a manager page shows them all)."""
    found: list[Any] = []
    cursor = None
    while True:
        rows, cursor = tags.list_tags(
            console.session,
            console.principal,
            group_id=None,
            type=None,
            q=None,
            sort="name",
            limit=200,
            cursor=cursor,
        )
        found += rows
        if cursor is None:
            return found


def _manager(
    request: Request, console: Console, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    rules, _ = automation.list_rules(
        console.session, console.principal, tag_id=None, sort=None, limit=200, cursor=None
    )
    tag_rows = _all_tags(console)
    groups = tags.list_groups(console.session, console.principal)
    return page(
        request,
        "tags/manager.html",
        status_code,
        console=console,
        modules=MODULES,
        active="segments",
        groups=groups,
        group_names={g.id: g.name for g in groups},
        tags=tag_rows,
        names={r.Tag.id: r.Tag.name for r in tag_rows},
        rules=[(r.TagRule, *automation.rule_target(r.TagRule)) for r in rules],
        type_labels=TYPE_LABELS,
        trigger_labels=TRIGGER_LABELS,
        event_types=sorted(catalogue.BUILTIN),
        filter_ops=FILTER_OPS,
        can_write=console.principal.can("tags:write"),
        error=error,
    )


def _done(request: Request, console: Console, act: Any) -> Response:
    """Run a change; back to the manager, or the manager with the refusal and nothing saved."""
    try:
        act()
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return _manager(request, console, **failure(request, exc))
    return RedirectResponse("/app/tags", status_code=303)


@router.get("/tags", response_class=HTMLResponse)
def manager(request: Request, console: ConsoleDep) -> HTMLResponse:
    return _manager(request, console)


@router.post("/tags/groups", response_class=HTMLResponse)
def create_group(request: Request, console: ConsoleDep, data: PostedForm) -> Response:
    return _done(
        request,
        console,
        lambda: tags.create_group(
            console.session,
            console.principal,
            TagGroupIn(name=_text(data, "name"), exclusive=bool(data.get("exclusive"))),
            utcnow(),
        ),
    )


@router.post("/tags/groups/{tag_group_id}", response_class=HTMLResponse)
def rename_group(
    request: Request, console: ConsoleDep, tag_group_id: Id, data: PostedForm
) -> Response:
    tags.get_group(console.session, console.principal, tag_group_id)  # 404 before the form
    return _done(
        request,
        console,
        lambda: tags.update_group(
            console.session,
            console.principal,
            tag_group_id,
            TagGroupPatch(name=_text(data, "name")).changes(),
        ),
    )


@router.post("/tags/groups/{tag_group_id}/delete", response_class=HTMLResponse)
def delete_group(request: Request, console: ConsoleDep, tag_group_id: Id) -> Response:
    return _done(
        request,
        console,
        lambda: tags.delete_group(console.session, console.principal, tag_group_id),
    )


@router.post("/tags", response_class=HTMLResponse)
def create_tag(request: Request, console: ConsoleDep, data: PostedForm) -> Response:
    return _done(
        request,
        console,
        lambda: tags.create_tag(
            console.session,
            console.principal,
            TagIn.model_validate(
                {
                    "name": _text(data, "name"),
                    "group_id": _text(data, "group_id") or None,
                    "type": _text(data, "type") or "basic",
                }
            ),
            utcnow(),
        ),
    )


@router.post("/tags/{tag_id}", response_class=HTMLResponse)
def update_tag(request: Request, console: ConsoleDep, tag_id: Id, data: PostedForm) -> Response:
    """Rename a tag and put it in a group (or none)."""
    tags.get_tag(console.session, console.principal, tag_id)  # 404 before the form
    return _done(
        request,
        console,
        lambda: tags.update_tag(
            console.session,
            console.principal,
            tag_id,
            TagPatch.model_validate(
                {"name": _text(data, "name"), "group_id": _text(data, "group_id") or None}
            ).changes(),
        ),
    )


@router.post("/tags/{tag_id}/delete", response_class=HTMLResponse)
def delete_tag(request: Request, console: ConsoleDep, tag_id: Id) -> Response:
    return _done(
        request,
        console,
        lambda: tags.delete_tag(console.session, console.principal, tag_id, utcnow()),
    )


def _rule(data: FormData) -> TagRuleIn:
    """A rule from the manager's form: one property filter at most, the condition as JSON."""
    trigger = _text(data, "trigger") or "event"
    definition: dict[str, Any] = {
        "name": _text(data, "name"),
        "tag_id": _text(data, "tag_id"),
        "action": _text(data, "action") or "add",
        "trigger": trigger,
    }
    if trigger == "event":
        definition["event_type"] = _text(data, "event_type")
        if _text(data, "property"):
            definition["where"] = [
                {
                    "property": _text(data, "property"),
                    "op": _text(data, "op") or "eq",
                    "value": _text(data, "value"),
                }
            ]
    elif trigger == "code":
        definition["code"] = _text(data, "code")
    else:
        definition["content_id"] = _text(data, "content_id")
    if _text(data, "condition"):
        try:
            definition["condition"] = json.loads(_text(data, "condition"))
        except ValueError:
            definition["condition"] = _text(data, "condition")  # refused as not an object
    return TagRuleIn.model_validate(definition)


@router.post("/tags/rules/new", response_class=HTMLResponse)
def create_rule(request: Request, console: ConsoleDep, data: PostedForm) -> Response:
    return _done(
        request,
        console,
        lambda: automation.create_rule(console.session, console.principal, _rule(data), utcnow()),
    )


@router.post("/tags/rules/{tag_rule_id}/enabled", response_class=HTMLResponse)
def enable_rule(
    request: Request, console: ConsoleDep, tag_rule_id: Id, data: PostedForm
) -> Response:
    enabled = data.get("enabled") == "1"
    return _done(
        request,
        console,
        lambda: automation.update_rule(
            console.session, console.principal, tag_rule_id, {"enabled": enabled}
        ),
    )


@router.post("/tags/rules/{tag_rule_id}/delete", response_class=HTMLResponse)
def delete_rule(request: Request, console: ConsoleDep, tag_rule_id: Id) -> Response:
    return _done(
        request,
        console,
        lambda: automation.delete_rule(console.session, console.principal, tag_rule_id),
    )


# -- a contact's tags (a section of the 360° page) -------------------------------------------


def _section(
    request: Request,
    console: Console,
    contact_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    contact = contacts.get(console.session, console.principal, contact_id)
    held = tags.contact_tags(console.session, console.principal, contact.id)
    have = {r.Tag.id for r in held}
    writable = console.principal.can("contacts:write") and contact.status == "active"
    return page(
        request,
        "tags/_contact.html",
        status_code,
        console=console,
        contact=contact,
        held=held,
        choices=[r.Tag for r in _all_tags(console) if r.Tag.id not in have] if writable else [],
        can_write=writable,
        error=error,
    )


@router.get("/contacts/{contact_id}/tags", response_class=HTMLResponse)
def contact_tags(request: Request, console: ConsoleDep, contact_id: Id) -> HTMLResponse:
    return _section(request, console, contact_id)


@router.post("/contacts/{contact_id}/tags", response_class=HTMLResponse)
def add_tag(request: Request, console: ConsoleDep, contact_id: Id, data: PostedForm) -> Response:
    try:
        tag_id = int(_text(data, "tag_id") or 0)
        tags.tag_contact(console.session, console.principal, contact_id, [tag_id], utcnow())
    except (GuanxiError, ValueError) as exc:
        console.session.rollback()
        refusal = exc if isinstance(exc, GuanxiError) else NotFound(resource=N_("Tag"))
        return _section(request, console, contact_id, **failure(request, refusal))
    return _section(request, console, contact_id)


@router.post("/contacts/{contact_id}/tags/{tag_id}/remove", response_class=HTMLResponse)
def remove_tag(request: Request, console: ConsoleDep, contact_id: Id, tag_id: Id) -> Response:
    try:
        tags.untag_contact(console.session, console.principal, contact_id, tag_id, utcnow())
    except GuanxiError as exc:
        console.session.rollback()
        return _section(request, console, contact_id, **failure(request, exc))
    return _section(request, console, contact_id)
