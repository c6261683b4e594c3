"""Routes for journeys: drafts, publishing (with the impact on running contacts first),
versions, pause/resume/archive, manual enrolment, enrolments, statistics and the dry run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.contact import service as contacts
from guanxi.http.deps import DB, Actor, Listing
from guanxi.i18n import N_, Message
from guanxi.journey import checks, service, stats
from guanxi.journey.schemas import (
    DryRunIn,
    DryStepOut,
    EnrolIn,
    EnrolmentOut,
    EnrolOut,
    ImpactOut,
    JourneyIn,
    JourneyOut,
    JourneyPatch,
    JourneySummary,
    ProblemOut,
    PublishIn,
    StatsOut,
    VersionOut,
)
from guanxi.kit.clock import utcnow
from guanxi.kit.page import Page
from guanxi.kit.pagination import SortSpec, paginate
from guanxi.kit.schema import Id
from guanxi.models import Journey, JourneyEnrolment, JourneyVersion

router = APIRouter(tags=["journeys"])


class InvalidGraph(checks.InvalidJourney):
    """A graph that is not even a graph (a node kind that does not exist, a field missing)."""


def _graph(raw: dict[str, object]) -> dict[str, object]:
    try:
        service.parse(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidGraph(
            [
                checks.Problem(
                    "invalid_graph",
                    None,
                    Message(N_("{where}: {reason}"), where=where, reason=first["msg"]),
                )
            ]
        ) from exc
    return raw


def out(session: Session, actor: Principal, row: Journey) -> JourneyOut:
    graph = service.parse(row.draft)
    problems = service.problems(session, row.workspace_id, graph)
    running = session.scalar(
        select(func.count()).where(
            JourneyEnrolment.workspace_id == row.workspace_id,
            JourneyEnrolment.journey_id == row.id,
            JourneyEnrolment.status == "active",
        )
    )
    return JourneyOut(
        id=row.id,
        name=row.name,
        description=row.description,
        status=row.status,
        version=row.version,
        graph=row.draft,
        problems=[
            ProblemOut(code=p.code, node=p.node, port=p.port, message=p.message.render())
            for p in problems
        ],
        running=running or 0,
        next_run_at=row.next_run_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.get("/journeys", response_model=list[JourneySummary])
def list_journeys(
    actor: Actor, session: DB, status: Annotated[str | None, Query(max_length=12)] = None
) -> list[JourneySummary]:
    return [JourneySummary.model_validate(j) for j in service.listed(session, actor, status)]


@router.post("/journeys", response_model=JourneyOut, status_code=201)
def create(data: JourneyIn, actor: Actor, session: DB) -> JourneyOut:
    """A new draft (by default: a manual entry and nothing else). ``graph`` is
    ``{"nodes": [...], "edges": [...], "settings": {"reentry": ...}}``; see the README for the
    node kinds. A draft may be incomplete: ``problems`` lists what keeps it from publishing."""
    graph = _graph(data.graph) if data.graph is not None else None
    row = service.create(session, actor, data.name, data.description, graph, utcnow())
    return out(session, actor, row)


@router.get("/journeys/{journey_id}", response_model=JourneyOut)
def get(journey_id: Id, actor: Actor, session: DB) -> JourneyOut:
    return out(session, actor, service.get(session, actor, journey_id))


@router.patch("/journeys/{journey_id}", response_model=JourneyOut)
def patch(journey_id: Id, data: JourneyPatch, actor: Actor, session: DB) -> JourneyOut:
    """Edits change the draft only: running enrolments go on with the published version."""
    sent = data.model_dump(exclude_unset=True)
    graph = _graph(sent["graph"]) if "graph" in sent else None
    row = service.update_draft(
        session,
        actor,
        journey_id,
        utcnow(),
        name=sent.get("name"),
        description=sent["description"] or "" if "description" in sent else None,
        draft=graph,
    )
    return out(session, actor, row)


@router.delete("/journeys/{journey_id}", status_code=204)
def delete(journey_id: Id, actor: Actor, session: DB) -> Response:
    """Only a journey never published may be deleted; archive the others."""
    service.delete(session, actor, journey_id)
    return Response(status_code=204)


@router.post("/journeys/{journey_id}/impact", response_model=list[ImpactOut])
def impact(journey_id: Id, data: PublishIn, actor: Actor, session: DB) -> list[ImpactOut]:
    """Before publishing: the running contacts per version and node, and where ``mapping``
    would move them (``moves_to`` null: they finish on their own version)."""
    return [ImpactOut(**i) for i in service.impact(session, actor, journey_id, data.mapping)]


@router.post("/journeys/{journey_id}/publish", response_model=JourneyOut)
def publish(journey_id: Id, data: PublishIn, actor: Actor, session: DB) -> JourneyOut:
    """Freeze the draft as the next version (422 ``invalid_journey`` with every problem).
    ``mapping`` ``{"1": {"wait3": "wait3b"}}`` moves version 1's contacts waiting at ``wait3``
    to ``wait3b`` of the new version; everyone else stays on their version."""
    row = service.publish(session, actor, journey_id, utcnow(), data.mapping)
    return out(session, actor, row)


@router.post("/journeys/{journey_id}/pause", response_model=JourneyOut)
def pause(journey_id: Id, actor: Actor, session: DB) -> JourneyOut:
    """Nothing moves and no one enters while paused; waits keep their due times, and those
    that fell due meanwhile go on at once when the journey is resumed."""
    return out(session, actor, service.set_status(session, actor, journey_id, "paused", utcnow()))


@router.post("/journeys/{journey_id}/resume", response_model=JourneyOut)
def resume(journey_id: Id, actor: Actor, session: DB) -> JourneyOut:
    return out(session, actor, service.set_status(session, actor, journey_id, "active", utcnow()))


@router.post("/journeys/{journey_id}/archive", response_model=JourneyOut)
def archive(journey_id: Id, actor: Actor, session: DB) -> JourneyOut:
    """Ends every running enrolment (reason ``archived``); the journey can no longer change."""
    return out(session, actor, service.set_status(session, actor, journey_id, "archived", utcnow()))


@router.get("/journeys/{journey_id}/versions", response_model=list[VersionOut])
def versions(journey_id: Id, actor: Actor, session: DB) -> list[VersionOut]:
    row = service.get(session, actor, journey_id)
    found = session.scalars(
        select(JourneyVersion)
        .where(JourneyVersion.workspace_id == row.workspace_id, JourneyVersion.journey_id == row.id)
        .order_by(JourneyVersion.version.desc())
    )
    return [VersionOut.model_validate(v) for v in found]


@router.post("/journeys/{journey_id}/enrolments", response_model=EnrolOut)
def enrol(journey_id: Id, data: EnrolIn, actor: Actor, session: DB) -> EnrolOut:
    """Enrol contacts by hand (409 ``journey_not_active`` unless running). Contacts the
    re-entry policy keeps out are left out of ``enrolled``."""
    return EnrolOut(enrolled=service.enrol(session, actor, journey_id, data.contact_ids, utcnow()))


ENROLMENT_SORT = SortSpec(
    fields={"entered_at": JourneyEnrolment.entered_at},
    tiebreak=JourneyEnrolment.id,
    default="-entered_at",
)


@router.get("/journeys/{journey_id}/enrolments", response_model=Page[EnrolmentOut])
def enrolments(
    journey_id: Id,
    listing: Listing,
    actor: Actor,
    session: DB,
    status: Annotated[str | None, Query(max_length=12)] = None,
    node: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[EnrolmentOut]:
    row = service.get(session, actor, journey_id)
    stmt = select(JourneyEnrolment).where(
        JourneyEnrolment.workspace_id == row.workspace_id, JourneyEnrolment.journey_id == row.id
    )
    if status:
        stmt = stmt.where(JourneyEnrolment.status == status)
    if node:
        stmt = stmt.where(JourneyEnrolment.node_id == node)
    rows, cursor = paginate(
        session, stmt, ENROLMENT_SORT, sort=listing.sort, limit=listing.limit, cursor=listing.cursor
    )
    return Page(items=[EnrolmentOut.model_validate(r[0]) for r in rows], next_cursor=cursor)


@router.get("/contacts/{contact_id}/journeys", response_model=list[EnrolmentOut])
def of_contact(contact_id: Id, actor: Actor, session: DB) -> list[EnrolmentOut]:
    """The contact's enrolments, newest first (running and finished)."""
    actor.require("journeys:read")
    contact = contacts.get(session, actor, contact_id)
    found = session.scalars(
        select(JourneyEnrolment)
        .where(
            JourneyEnrolment.workspace_id == actor.workspace_id,
            JourneyEnrolment.contact_id == contact.id,
        )
        .order_by(JourneyEnrolment.entered_at.desc())
        .limit(200)
    )
    return [EnrolmentOut.model_validate(e) for e in found]


@router.get("/journeys/{journey_id}/stats", response_model=StatsOut)
def journey_stats(journey_id: Id, actor: Actor, session: DB) -> StatsOut:
    """Per node: contacts that entered, wait there now, went on, failed, were skipped (with
    the reason: no change, or a message not sent — opted out, suppressed, capped …), and the
    messages the node wrote (sent, opened, clicked); goal conversion; each split variant's
    contacts and conversions."""
    return stats.stats(session, actor, journey_id, utcnow())


@router.post("/journeys/{journey_id}/dry-run", response_model=list[DryStepOut])
def dry_run(journey_id: Id, data: DryRunIn, actor: Actor, session: DB) -> list[DryStepOut]:
    """Walk one contact through the draft (or the published version) on a simulated clock,
    with events you say will happen; returns every step with its time and what it would do.
    Nothing is written or sent."""
    return stats.dry_run(session, actor, journey_id, data, utcnow())
