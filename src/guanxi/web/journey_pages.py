"""Console screens for journeys: the list (status, version, running contacts, a new journey),
the editor (static/journeys.js draws the draft on an AntV X6 canvas and posts it back here as
JSON), publishing after a look at the running contacts it affects (with a mapping for those on
nodes the new version drops), pause, resume and archive, the per-node counts of the published
version, and the dry run of one contact.

Record ids are 63-bit and JavaScript numbers hold 53: the page hands the canvas every larger
integer as a string, and the graph's models turn such strings back into integers on save.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select

from guanxi.contact import service as contacts
from guanxi.errors import GuanxiError
from guanxi.form import service as forms
from guanxi.http.errors import reason_of, render
from guanxi.i18n import N_, Language, Message
from guanxi.journey import checks, service, stats
from guanxi.journey import graph as g
from guanxi.journey.schemas import DryRunIn, JourneyIn, SimEventIn
from guanxi.kit.clock import utcnow
from guanxi.kit.schema import Id
from guanxi.message import templates
from guanxi.models import Journey, JourneyEnrolment
from guanxi.web import segment_builder
from guanxi.web.nav import MODULES
from guanxi.web.render import failure, language_of, page
from guanxi.web.session import Console, ConsoleDep, PostedForm
from guanxi.webhook import service as webhooks
from guanxi.workspace import members

router = APIRouter()
SAFE_INT = 2**53 - 1  # the largest integer a JavaScript number holds exactly
CONTACT_CHOICES = 20  # contacts offered for a dry run per search
MEMBER_CHOICES = 500


class DraftIn(BaseModel):
    """What the canvas posts: the whole draft graph, and the name and description beside it."""

    model_config = ConfigDict(extra="forbid")

    graph: dict[str, Any]
    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=500)


async def posted_json(request: Request) -> Any:
    """The posted JSON, read on the event loop (None for any other body: a form's was read
    already, for its CSRF token)."""
    if request.headers.get("content-type", "").partition(";")[0].strip() != "application/json":
        return None
    try:
        return await request.json()
    except ValueError:
        return None


PostedJson = Annotated[Any, Depends(posted_json)]


def js_safe(value: Any) -> Any:
    """``value`` with every integer JavaScript cannot hold exactly turned into its digits."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) > SAFE_INT:
        return str(value)
    if isinstance(value, dict):
        return {k: js_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [js_safe(v) for v in value]
    return value


def problems_out(found: Sequence[checks.Problem], language: Language) -> list[dict[str, Any]]:
    return [{**p.as_dict(), "message": p.message.render(language)} for p in found]


def invalid_fields(exc: ValidationError, raw: Any, language: Language) -> list[dict[str, Any]]:
    """Every reason a posted draft is not even a graph, each tied to its node where the error
    lies inside one (``nodes.3.send.template_id`` → the fourth node, ``template_id``)."""
    nodes = raw.get("nodes") if isinstance(raw, dict) else None
    out = []
    for e in exc.errors():
        loc = list(e["loc"])
        node_id = None
        if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int) and nodes:
            found = nodes[loc[1]] if loc[1] < len(nodes) else None
            node_id = found.get("id") if isinstance(found, dict) else None
            kind = found.get("kind") if isinstance(found, dict) else None
            loc = loc[3:] if len(loc) > 2 and loc[2] == kind else loc[2:]
        where = ".".join(str(p) for p in loc)
        reason = reason_of(e, language)
        message = Message(N_("{where}: {reason}"), where=where, reason=reason) if where else None
        out.append(
            {
                "code": "invalid_graph",
                "node": node_id if isinstance(node_id, str) else None,
                "port": None,
                "message": message.render(language) if message else reason,
            }
        )
    return out


def running_counts(console: Console) -> dict[int, int]:
    """Contacts in each journey of the workspace now."""
    rows = console.session.execute(
        select(JourneyEnrolment.journey_id, func.count())
        .where(
            JourneyEnrolment.workspace_id == console.principal.workspace_id,
            JourneyEnrolment.status == "active",
        )
        .group_by(JourneyEnrolment.journey_id)
    ).all()
    return {journey_id: n for journey_id, n in rows}


def _base(console: Console) -> dict[str, Any]:
    return {"console": console, "modules": MODULES, "active": "journeys"}


def list_page(
    request: Request,
    console: Console,
    *,
    error: str | None = None,
    status_code: int = 200,
    name: str = "",
    description: str = "",
) -> HTMLResponse:
    return page(
        request,
        "journeys/list.html",
        status_code,
        journeys=service.listed(console.session, console.principal),
        running=running_counts(console),
        can_write=console.principal.can("journeys:write"),
        error=error,
        name=name,
        description=description,
        **_base(console),
    )


@router.get("/journeys", response_class=HTMLResponse)
def journey_list(request: Request, console: ConsoleDep) -> HTMLResponse:
    return list_page(request, console)


@router.post("/journeys/new", response_class=HTMLResponse)
def create_journey(request: Request, console: ConsoleDep, data: PostedForm) -> Response:
    """A new journey: a manual entry on an empty canvas, opened in the editor."""
    name = str(data.get("name") or "").strip()
    description = str(data.get("description") or "").strip()
    try:
        console.principal.require("journeys:write")
        wanted = JourneyIn(name=name, description=description or None)
        made = service.create(
            console.session, console.principal, wanted.name, wanted.description, None, utcnow()
        )
    except (GuanxiError, ValidationError) as exc:
        console.session.rollback()
        return list_page(
            request, console, name=name, description=description, **failure(request, exc)
        )
    return RedirectResponse(f"/app/journeys/{made.id}", status_code=303)


def pickers(request: Request, console: Console, journey_id: int) -> dict[str, Any]:
    """What the node panel offers, named as people see them: the segment builder's fields,
    event types, tags, models, segments and stages, and the templates, members, webhook
    endpoints, forms and other journeys of the workspace."""
    base = segment_builder.pickers(request, console, None)
    session, actor = console.session, console.principal
    stages = next(f["options"] for f in base["contact_fields"] if f["name"] == "stage")
    fields = [
        {"name": f["name"], "label": f["label"], "type": f["type"]} for f in base["contact_fields"]
    ]
    rows, _ = members.list_members(
        session,
        actor,
        role=None,
        department_id=None,
        status="active",
        q=None,
        sort="name",
        limit=MEMBER_CHOICES,
        cursor=None,
    )
    offered: dict[str, Any] = js_safe(
        {
            "channels": list(get_args(g.SendNode.model_fields["channel"].annotation)),
            "event_types": [{"name": e["name"], "label": e["label"]} for e in base["event_types"]],
            "tags": base["tags"],
            "models": base["models"],
            "segments": base["segments"],
            "stages": stages,
            "condition_kinds": base["kinds"],
            "op_labels": base["op_labels"],
            "fields": fields,
            "writable": [
                f["name"]
                for f in fields
                if f["name"] in service.WRITABLE or f["name"].startswith("custom.")
            ],
            "date_fields": [
                f["name"] for f in fields if f["name"].startswith("custom.") and f["type"] == "date"
            ],
            "templates": [
                {"id": t.id, "name": t.name, "channel": t.channel}
                for t in templates.listed(session, actor, None)
            ],
            "members": [
                {"id": r.User.id, "name": members.member_out(r.User, r.Membership).name}
                for r in rows
            ],
            "webhooks": [
                {"id": w.id, "name": w.description or w.url}
                for w in webhooks.list_endpoints(session, actor)
            ],
            "forms": [{"id": f.id, "name": f.name} for f in forms.list_forms(session, actor)],
            "journeys": [
                {"id": j.id, "name": j.name}
                for j in service.listed(session, actor)
                if j.id != journey_id
            ],
        }
    )
    return offered


def node_stats(console: Console, journey: Journey) -> dict[str, Any] | None:
    """The published version's counts, per node and in total (None before a publish)."""
    if journey.version is None:
        return None
    found = stats.stats(console.session, console.principal, journey.id, utcnow())
    return found.model_dump(mode="json")


def editor_page(
    request: Request,
    console: Console,
    journey_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    journey = service.get(console.session, console.principal, journey_id)
    language = language_of(request)
    graph = service.parse(journey.draft)
    found = problems_out(service.problems(console.session, journey.workspace_id, graph), language)
    can_write = console.principal.can("journeys:write") and journey.status != "archived"
    counts = node_stats(console, journey)
    data = {
        "id": str(journey.id),
        "graph": js_safe(journey.draft),
        "problems": found,
        "stats": counts,
        "can_write": can_write,
        "save_url": f"/app/journeys/{journey.id}/draft",
        "pickers": pickers(request, console, journey.id),
    }
    return page(
        request,
        "journeys/editor.html",
        status_code,
        journey=journey,
        running=running_counts(console).get(journey.id, 0),
        problems=found,
        stats=counts,
        can_write=can_write,
        data=data,
        error=error,
        **_base(console),
    )


@router.get("/journeys/{journey_id}", response_class=HTMLResponse)
def edit_journey(request: Request, console: ConsoleDep, journey_id: Id) -> HTMLResponse:
    return editor_page(request, console, journey_id)


@router.post("/journeys/{journey_id}/draft")
def save_draft(
    request: Request, console: ConsoleDep, journey_id: Id, raw: PostedJson
) -> JSONResponse:
    """The canvas's save: the draft as it stands, answered with what keeps it from being
    published (200), or — nothing saved — why it is not a graph at all (422). Refusals (a
    viewer, another workspace's journey, an archived one) are the console's error pages."""
    language = language_of(request)
    service.get(console.session, console.principal, journey_id, write=True)
    try:
        data = DraftIn.model_validate(raw)
        graph = service.parse(data.graph)
    except ValidationError as exc:
        graph_raw = raw.get("graph") if isinstance(raw, dict) else None
        return JSONResponse({"problems": invalid_fields(exc, graph_raw, language)}, 422)
    row = service.update_draft(
        console.session,
        console.principal,
        journey_id,
        utcnow(),
        name=data.name,
        description=data.description,
        draft=data.graph,
    )
    found = service.problems(console.session, row.workspace_id, graph)
    return JSONResponse({"problems": problems_out(found, language)})


def publish_page(
    request: Request,
    console: Console,
    journey_id: int,
    *,
    mapping: dict[str, dict[str, str]] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    journey = service.get(console.session, console.principal, journey_id, write=True)
    graph = service.parse(journey.draft)
    found = service.problems(console.session, journey.workspace_id, graph)
    impact = service.impact(console.session, console.principal, journey.id, mapping or {})
    return page(
        request,
        "journeys/publish.html",
        status_code,
        journey=journey,
        problems=problems_out(found, language_of(request)),
        impact=[{**i, "kept": i["node"] in graph.by_id} for i in impact],
        nodes=[(n.id, n.label or n.id) for n in graph.nodes],
        error=error,
        **_base(console),
    )


@router.get("/journeys/{journey_id}/publish", response_class=HTMLResponse)
def review_publish(request: Request, console: ConsoleDep, journey_id: Id) -> HTMLResponse:
    """Before publishing: what keeps the draft back, and the running contacts per version and
    node, with a choice of where to move those whose node the new version no longer has."""
    return publish_page(request, console, journey_id)


@router.post("/journeys/{journey_id}/publish", response_class=HTMLResponse)
def publish(request: Request, console: ConsoleDep, journey_id: Id, data: PostedForm) -> Response:
    """Fields ``map:<version>:<node>`` name the new node for that version's contacts there
    (empty: they finish on their own version)."""
    mapping: dict[str, dict[str, str]] = {}
    for key, target in data.multi_items():
        parts = key.split(":", 2)
        if len(parts) == 3 and parts[0] == "map" and isinstance(target, str) and target:
            mapping.setdefault(parts[1], {})[parts[2]] = target
    try:
        service.publish(console.session, console.principal, journey_id, utcnow(), mapping)
    except GuanxiError as exc:
        console.session.rollback()
        return publish_page(request, console, journey_id, mapping=mapping, **failure(request, exc))
    return RedirectResponse(f"/app/journeys/{journey_id}", status_code=303)


def _status(request: Request, console: Console, journey_id: int, status: str) -> Response:
    try:
        service.set_status(console.session, console.principal, journey_id, status, utcnow())
    except GuanxiError as exc:
        console.session.rollback()
        return editor_page(request, console, journey_id, **failure(request, exc))
    return RedirectResponse(f"/app/journeys/{journey_id}", status_code=303)


@router.post("/journeys/{journey_id}/pause", response_class=HTMLResponse)
def pause(request: Request, console: ConsoleDep, journey_id: Id) -> Response:
    return _status(request, console, journey_id, "paused")


@router.post("/journeys/{journey_id}/resume", response_class=HTMLResponse)
def resume(request: Request, console: ConsoleDep, journey_id: Id) -> Response:
    return _status(request, console, journey_id, "active")


@router.post("/journeys/{journey_id}/archive", response_class=HTMLResponse)
def archive(request: Request, console: ConsoleDep, journey_id: Id) -> Response:
    return _status(request, console, journey_id, "archived")


@router.get("/journeys/{journey_id}/contacts", response_class=HTMLResponse)
def contact_choices(
    request: Request,
    console: ConsoleDep,
    journey_id: Id,
    q: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    """The dry run's contact picker: contacts whose name, email or phone holds ``q``."""
    service.get(console.session, console.principal, journey_id)
    found = contacts.search(console.session, console.principal, q, CONTACT_CHOICES)
    return page(request, "journeys/_contacts.html", found=found)


class DryRunForm(BaseModel):
    """The dry-run panel's fields: the contact, how many days to follow them, which graph,
    and optionally an event they do ``event_day`` days in."""

    contact_id: Id
    days: int = Field(default=30, ge=1, le=366)
    source: Literal["draft", "published"] = "draft"
    event_type: str | None = Field(default=None, max_length=64)
    event_day: float = Field(default=1, ge=0, le=366)


@router.post("/journeys/{journey_id}/dry-run", response_class=HTMLResponse)
def dry_run(
    request: Request, console: ConsoleDep, journey_id: Id, data: PostedForm
) -> HTMLResponse:
    """One contact through the draft (or the published version) on a simulated clock, with an
    event they may do some days in; nothing is written or sent."""
    journey = service.get(console.session, console.principal, journey_id)
    language = language_of(request)
    context: dict[str, Any] = {"console": console}
    try:
        form = DryRunForm.model_validate({k: v for k, v in data.items() if v != ""})
        start = utcnow()
        events = (
            [SimEventIn(type=form.event_type, at=start + timedelta(days=form.event_day))]
            if form.event_type and form.event_type.strip()
            else []
        )
        wanted = DryRunIn(
            contact_id=form.contact_id,
            start=start,
            days=form.days,
            events=events,
            source=form.source,
        )
        steps = stats.dry_run(console.session, console.principal, journey.id, wanted, start)
    except checks.InvalidJourney as exc:
        context.update(status_code=422, problems=problems_out(exc.problems, language))
        context["error"] = render(exc, language)
    except (GuanxiError, ValidationError) as exc:
        context.update(failure(request, exc))
    else:
        context["steps"] = steps
        context["names"] = {n.id: n.label or n.id for n in service.parse(journey.draft).nodes}
    return page(request, "journeys/_dry_run.html", **context)
