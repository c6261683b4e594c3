"""From an outbox row to what the connector sends: the template (compiled once per revision),
personalised with the contact's and their company's fields and the sender's name, links made
trackable, the open pixel, and the unsubscribe links (the one-click List-Unsubscribe header of
RFC 8058 and the preference centre).

Everything a contact needs is loaded for the whole batch first (their first company, the owners
who sign), so composing a message runs no query.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guanxi.channels.base import OutboundMessage
from guanxi.config import Settings
from guanxi.consent import links
from guanxi.i18n import Message
from guanxi.message import render
from guanxi.message.tracking import click_token, open_token
from guanxi.models import Account, Contact, ContactAccount, MessageTemplate, User
from guanxi.segment.conditions import ACCOUNT_FIELDS, CONTACT_FIELDS


class CannotSend(Exception):
    """The message cannot be composed or has no way out: it fails with ``code``; ``reason``
    says why to a person."""

    def __init__(self, code: str, detail: str = "", reason: Message | str | None = None) -> None:
        super().__init__(detail or code)
        self.code = code
        self.reason = reason or detail or code


@lru_cache(maxsize=512)
def _compiled(
    workspace_id: int, template_id: int, revision: int, subject: str, html: str, text: str
) -> render.Compiled:
    return render.compile_template(subject, html or None, text or None)


def compiled(template: MessageTemplate) -> render.Compiled:
    try:
        return _compiled(
            template.workspace_id,
            template.id,
            template.revision,
            template.subject or "",
            template.html or "",
            template.text or "",
        )
    except render.TemplateError as exc:
        raise CannotSend("template_error", str(exc), exc.message) from exc


def contact_variables(contact: Contact) -> dict[str, Any]:
    values = {name: getattr(contact, name, None) for name in CONTACT_FIELDS}
    values["id"] = contact.id
    values["custom"] = dict(contact.custom or {})
    return values


def account_variables(account: Account | None) -> dict[str, Any]:
    if account is None:
        return {}
    values = {name: getattr(account, name, None) for name in ACCOUNT_FIELDS}
    values["custom"] = dict(account.custom or {})
    return values


class Composer:
    """Composes one workspace's messages of one dispatch round."""

    def __init__(
        self,
        session: Session,
        workspace_id: int,
        settings: Settings,
        contacts: Sequence[Contact],
        template_ids: set[int],
        sender_ids: set[int],
    ) -> None:
        self.workspace_id, self.settings = workspace_id, settings
        self.base = settings.base_url.rstrip("/")
        self.templates = {
            t.id: t
            for t in session.scalars(
                select(MessageTemplate).where(
                    MessageTemplate.workspace_id == workspace_id,
                    MessageTemplate.id.in_(template_ids or {0}),
                )
            )
        }
        ids = {c.id for c in contacts}
        self.accounts: dict[int, Account] = {}
        rows = session.execute(
            select(ContactAccount.contact_id, Account)
            .join(
                Account,
                (Account.workspace_id == ContactAccount.workspace_id)
                & (Account.id == ContactAccount.account_id),
            )
            .where(
                ContactAccount.workspace_id == workspace_id,
                ContactAccount.contact_id.in_(ids or {0}),
            )
            .order_by(ContactAccount.contact_id, Account.name)
        ).all()
        for contact_id, account in rows:
            self.accounts.setdefault(contact_id, account)
        owners = {c.owner_id for c in contacts if c.owner_id} | sender_ids
        self.users = {
            u.id: u for u in session.scalars(select(User).where(User.id.in_(owners or {0})))
        }

    def _sender(self, message: Any, contact: Contact | None) -> dict[str, Any]:
        user_id = message.sender_id or (contact.owner_id if contact else None)
        user = self.users.get(user_id) if user_id else None
        return {"name": user.name, "email": user.email} if user else {}

    def build(
        self, message: Any, contact: Contact | None, address: str | None, *, tracking: bool = True
    ) -> OutboundMessage:
        if not address:
            raise CannotSend("no_address")
        template = self.templates.get(message.template_id) if message.template_id else None
        if template is None:
            raise CannotSend("template_missing")
        unsubscribe = preferences = ""
        if contact is not None:
            token = links.unsubscribe_token(
                self.settings.secret_key, self.workspace_id, contact.id, message.channel, message.id
            )
            unsubscribe = f"{self.base}/u/{token}"
            preferences = f"{self.base}/preferences/{token}"
        variables: dict[str, Any] = {
            **(message.variables or {}),
            "contact": contact_variables(contact) if contact else {},
            "account": account_variables(self.accounts.get(contact.id) if contact else None),
            "sender": self._sender(message, contact),
            "unsubscribe_url": unsubscribe,
            "preferences_url": preferences,
        }
        trackers = None
        if tracking and message.channel == "email" and contact is not None:
            secret, base, ws, mid = (
                self.settings.secret_key,
                self.base,
                self.workspace_id,
                message.id,
            )
            trackers = render.Tracking(
                open_url=f"{base}/e/o/{open_token(secret, ws, mid)}.gif",
                click_url=lambda url: f"{base}/e/c/{click_token(secret, ws, mid, url)}",
            )
        try:
            done = render.render(compiled(template), variables, trackers)
        except render.TemplateError as exc:
            raise CannotSend("template_error", str(exc), exc.message) from exc
        headers: dict[str, str] = {}
        if message.channel == "email" and unsubscribe:
            headers["List-Unsubscribe"] = f"<{unsubscribe}>"
            if message.marketing:
                headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        data = dict(template.data or {})
        sender = variables["sender"]
        return OutboundMessage(
            key=message.key,
            channel=message.channel,
            to=address,
            subject=done.subject,
            html=done.html,
            text=done.text,
            headers=headers,
            from_address=None,
            from_name=sender.get("name") if message.channel != "email" else None,
            data=data,
        )
