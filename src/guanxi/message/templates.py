"""Message templates: what a send says, per channel; checked when saved (a template that does not
compile is refused with the line and the reason) and previewed for any contact."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.config import Settings
from guanxi.contact import service as contacts
from guanxi.errors import Conflict, NotFound, ValidationFailed
from guanxi.i18n import N_
from guanxi.journey import references as journeys
from guanxi.message import compose, render
from guanxi.models import Message, MessageTemplate


class InvalidTemplate(ValidationFailed):
    code = "invalid_template"
    message = N_("The template does not compile: {reason}")


class TemplateInUse(Conflict):
    code = "template_in_use"
    message = N_("{name} sends this template: change that first.")


def get(
    session: Session, actor: Principal, template_id: int, *, write: bool = False
) -> MessageTemplate:
    actor.require("templates:write" if write else "templates:read")
    row = session.get(MessageTemplate, (actor.workspace_id, template_id))
    if row is None:
        raise NotFound(resource=N_("Template"))
    return row


def listed(session: Session, actor: Principal, channel: str | None) -> Sequence[MessageTemplate]:
    actor.require("templates:read")
    stmt = select(MessageTemplate).where(MessageTemplate.workspace_id == actor.workspace_id)
    if channel:
        stmt = stmt.where(MessageTemplate.channel == channel)
    return session.scalars(stmt.order_by(MessageTemplate.name, MessageTemplate.id)).all()


def _check(values: Mapping[str, Any]) -> None:
    try:
        render.compile_template(values.get("subject") or "", values.get("html"), values.get("text"))
    except render.TemplateError as exc:
        raise InvalidTemplate(reason=exc.message) from exc


def save(
    session: Session,
    actor: Principal,
    values: Mapping[str, Any],
    now: datetime,
    row: MessageTemplate | None = None,
) -> MessageTemplate:
    actor.require("templates:write")
    merged = {
        k: values.get(k, getattr(row, k) if row is not None else None)
        for k in ("channel", "name", "subject", "html", "text", "data")
    }
    _check(merged)
    if row is None:
        row = MessageTemplate(
            workspace_id=actor.workspace_id, created_by=actor.user_id, created_at=now, revision=0
        )
        session.add(row)
    merged["data"] = merged["data"] or {}
    for key, value in merged.items():
        setattr(row, key, value)
    row.revision = (row.revision or 0) + 1
    row.updated_at = now
    session.flush()
    return row


def delete(session: Session, actor: Principal, template_id: int) -> None:
    row = get(session, actor, template_id, write=True)
    user = journeys.using(session, actor.workspace_id, "templates", row.id)
    if user is not None:
        raise TemplateInUse(name=user)
    waiting = session.scalar(
        select(Message.id)
        .where(
            Message.workspace_id == actor.workspace_id,
            Message.template_id == row.id,
            Message.status.in_(("queued", "sending")),
        )
        .limit(1)
    )
    if waiting is not None:
        raise TemplateInUse(name=N_("The outbox"))
    session.delete(row)
    session.flush()


def preview(
    session: Session, actor: Principal, template_id: int, contact_id: int, settings: Settings
) -> render.Rendered:
    """The template as this contact would get it (links not rewritten, nothing recorded)."""
    template = get(session, actor, template_id)
    contact = contacts.get(session, actor, contact_id)
    composer = compose.Composer(
        session, actor.workspace_id, settings, [contact], {template.id}, set()
    )
    fake = Message(
        workspace_id=actor.workspace_id,
        id=0,
        key="preview",
        channel=template.channel,
        template_id=template.id,
        marketing=True,
        variables={},
    )
    try:
        built = composer.build(fake, contact, "preview", tracking=False)
    except compose.CannotSend as exc:  # the template fails while being filled in
        raise InvalidTemplate(reason=exc.reason) from exc
    return render.Rendered(built.subject or "", built.html or "", built.text or "")
