"""Routes for content and its tracked links."""

from __future__ import annotations

from fastapi import APIRouter, Request

from guanxi.content import service
from guanxi.content.schemas import ContentIn, ContentOut, LinkIn, LinkOut
from guanxi.http.deps import DB, Actor
from guanxi.kit.clock import utcnow
from guanxi.kit.schema import Id
from guanxi.models import TrackedLink
from guanxi.tracking.public import own_origin

router = APIRouter(tags=["content"])


def link_out(request: Request, row: TrackedLink) -> LinkOut:
    out = LinkOut.model_validate(row)
    out.url = f"{own_origin(request)}/c/{row.code}"
    return out


@router.get("/content", response_model=list[ContentOut])
def list_content(actor: Actor, session: DB) -> list[ContentOut]:
    return [ContentOut.model_validate(c) for c in service.list_content(session, actor)]


@router.post("/content", response_model=ContentOut, status_code=201)
def create_content(data: ContentIn, actor: Actor, session: DB) -> ContentOut:
    return ContentOut.model_validate(service.create(session, actor, data, utcnow()))


@router.get("/content/{content_id}", response_model=ContentOut)
def get_content(content_id: Id, actor: Actor, session: DB) -> ContentOut:
    return ContentOut.model_validate(service.get(session, actor, content_id))


@router.put("/content/{content_id}", response_model=ContentOut)
def update_content(content_id: Id, data: ContentIn, actor: Actor, session: DB) -> ContentOut:
    return ContentOut.model_validate(service.update(session, actor, content_id, data, utcnow()))


@router.post("/content/{content_id}/links", response_model=LinkOut, status_code=201)
def make_link(content_id: Id, data: LinkIn, request: Request, actor: Actor, session: DB) -> LinkOut:
    """Your tracked link to this content for one recipient (or a channel code, or anyone):
    opens are attributed to you, and you are told when it is opened."""
    return link_out(request, service.link(session, actor, content_id, data, utcnow()))


@router.get("/content/{content_id}/links", response_model=list[LinkOut])
def list_links(content_id: Id, request: Request, actor: Actor, session: DB) -> list[LinkOut]:
    return [link_out(request, r) for r in service.links(session, actor, content_id)]
