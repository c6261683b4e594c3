"""Routes for events: batch ingestion, the live list of recent events, event types."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from guanxi.auth.principal import WholeWorkspaceNeeded
from guanxi.event import catalogue, ingest, service, types
from guanxi.event.batch_schemas import BatchIn, BatchOut, EventError, EventResult
from guanxi.event.schemas import EventOut, EventTypeIn, EventTypeOut, PropIn
from guanxi.http.deps import DB, Actor, Listing
from guanxi.kit.clock import utcnow
from guanxi.kit.page import Page
from guanxi.kit.schema import Timestamp

router = APIRouter(tags=["events"])


@router.post("/events/batch", response_model=BatchOut)
def batch(data: BatchIn, actor: Actor, session: DB) -> BatchOut:
    """Record up to 1,000 events. Each names its person by identities (email, phone, openid …),
    an ``anonymous_id`` or a ``contact_id``; unknown people are created and identities that
    prove two contacts one person merge them. Each event is checked on its own: the answer has
    one result per event (``accepted``, ``duplicate`` of an earlier event with the same
    ``idempotency_key``, or ``rejected`` with a code and reason), and the valid ones are stored
    even when others are not. Sending the same batch again stores nothing twice."""
    actor.require("events:write")
    if actor.data_scope.value != "all":
        raise WholeWorkspaceNeeded()
    results = ingest.ingest(
        session, actor.workspace_id, data.events, source=data.source, now=utcnow()
    )
    out = [
        EventResult(
            index=i,
            status=r.status,
            event_id=r.event_id,
            contact_id=r.contact_id,
            error=EventError(code=r.code, message=r.message.render())
            if r.code and r.message
            else None,
        )
        for i, r in enumerate(results)
    ]
    return BatchOut(
        accepted=sum(r.status == "accepted" for r in results),
        duplicates=sum(r.status == "duplicate" for r in results),
        rejected=sum(r.status == "rejected" for r in results),
        results=out,
    )


@router.get("/events", response_model=Page[EventOut])
def recent(
    actor: Actor,
    session: DB,
    listing: Listing,
    type: Annotated[list[str] | None, Query(max_length=20, description="Only these types.")] = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    since: Timestamp | None = None,
) -> Page[EventOut]:
    """The workspace's events as they arrive, newest first (the console's live events page)."""
    rows, cursor = service.recent(
        session,
        actor,
        types=type or [],
        channel=channel,
        since=since,
        limit=listing.limit,
        cursor=listing.cursor,
    )
    return Page(items=[EventOut.model_validate(r.Event) for r in rows], next_cursor=cursor)


def _builtin(spec: catalogue.TypeSpec) -> EventTypeOut:
    return EventTypeOut(
        name=spec.name,
        label=spec.name,
        builtin=True,
        internal=spec.internal,
        properties=[PropIn(name=p.name, kind=p.kind, required=p.required) for p in spec.props],
    )


@router.get("/event-types", response_model=list[EventTypeOut])
def list_types(actor: Actor, session: DB) -> list[EventTypeOut]:
    """Built-in types (``internal`` ones are recorded by guanxi only) and the workspace's own."""
    own = [EventTypeOut.model_validate(t) for t in types.list_types(session, actor)]
    return [_builtin(s) for s in catalogue.BUILTIN.values()] + own


@router.post("/event-types", response_model=EventTypeOut, status_code=201)
def create_type(data: EventTypeIn, actor: Actor, session: DB) -> EventTypeOut:
    """Register a custom event type with the properties its events must carry."""
    return EventTypeOut.model_validate(types.create_type(session, actor, data, utcnow()))


@router.delete("/event-types/{name}", status_code=204)
def delete_type(name: str, actor: Actor, session: DB) -> Response:
    types.delete_type(session, actor, name)
    return Response(status_code=204)
