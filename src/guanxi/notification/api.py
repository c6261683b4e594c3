"""Routes for one's own notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict

from guanxi.http.deps import DB, Actor
from guanxi.kit.clock import utcnow
from guanxi.kit.page import Page
from guanxi.kit.schema import Id
from guanxi.notification import service

router = APIRouter(tags=["notifications"])


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    kind: str
    payload: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


@router.get("/notifications", response_model=Page[NotificationOut])
def list_notifications(
    actor: Actor, session: DB, unread: bool = False, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> Page[NotificationOut]:
    """Your notifications, newest first (``kind`` collision: someone wrote to a record you own)."""
    items = [
        NotificationOut.model_validate(n)
        for n in service.mine(session, actor, unread_only=unread, limit=limit)
    ]
    return Page(items=items, next_cursor=None)


@router.post("/notifications/{notification_id}/read", status_code=204)
def mark_read(notification_id: Id, actor: Actor, session: DB) -> Response:
    service.mark_read(session, actor, notification_id, utcnow())
    return Response(status_code=204)


@router.post("/notifications/read-all", status_code=204)
def mark_all_read(actor: Actor, session: DB) -> Response:
    service.mark_read(session, actor, None, utcnow())
    return Response(status_code=204)
