"""Accounts: companies, matched by domain or normalised name, and the contacts who work there."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, or_, select
from sqlalchemy.orm import Session

from guanxi.account.schemas import AccountIn, LinkIn, MemberLinkOut
from guanxi.auth import service as auth
from guanxi.auth.principal import Principal
from guanxi.contact import collisions, normalise
from guanxi.contact import fields as custom_fields
from guanxi.contact import service as contacts
from guanxi.errors import BadRequest, InvalidValue, NotFound
from guanxi.event import service as events
from guanxi.i18n import N_
from guanxi.kit.clock import utcnow
from guanxi.kit.pagination import SortSpec, paginate
from guanxi.models import Account, Contact, ContactAccount


class ReportsOutside(BadRequest):
    code = "reports_to_outside_account"
    message = N_("A contact can only report to someone at the same account, and not to themselves.")


def visible(session: Session, actor: Principal) -> ColumnElement[bool]:
    return auth.owner_visible(session, actor, Account.owner_id)


def get(session: Session, actor: Principal, account_id: int, *, write: bool = False) -> Account:
    actor.require("accounts:write" if write else "accounts:read")
    stmt = select(Account).where(
        Account.workspace_id == actor.workspace_id,
        Account.id == account_id,
        visible(session, actor),
    )
    account = session.scalar(stmt)
    if account is None:
        raise NotFound(resource=N_("Account"))
    if write:
        collisions.touched(
            session, actor, "account", account.id, account.owner_id, account.name, "write", utcnow()
        )
    return account


ACCOUNT_SORT = SortSpec(
    fields={
        "created_at": Account.created_at,
        "name": Account.name_key,
        "updated_at": Account.updated_at,
    },
    tiebreak=Account.id,
    default="name",
)


def list_accounts(
    session: Session,
    actor: Principal,
    *,
    q: str | None,
    tier: str | None,
    industry: str | None,
    owner_id: int | None,
    sort: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Row[Any]], str | None]:
    actor.require("accounts:read")
    stmt = select(Account).where(
        Account.workspace_id == actor.workspace_id, visible(session, actor)
    )
    if q:
        like = f"%{normalise.company_key(q) or q.strip().lower()}%"
        stmt = stmt.where(
            or_(Account.name_key.like(like), Account.domain.like(f"%{q.strip().lower()}%"))
        )
    if tier is not None:
        stmt = stmt.where(Account.tier == tier)
    if industry is not None:
        stmt = stmt.where(Account.industry == industry)
    if owner_id is not None:
        stmt = stmt.where(Account.owner_id == owner_id)
    return paginate(session, stmt, ACCOUNT_SORT, sort=sort, limit=limit, cursor=cursor)


def _clean(
    session: Session, workspace_id: int, values: dict[str, Any], *, complete: bool
) -> dict[str, Any]:
    contacts.check_owner(session, workspace_id, values.get("owner_id"))
    try:
        if values.get("domain"):
            values["domain"] = normalise.domain(values["domain"])
        if values.get("custom") is not None:
            definitions = custom_fields.definitions(session, workspace_id, "account")
            values["custom"] = custom_fields.validate(
                definitions, values["custom"], complete=complete
            )
    except InvalidValue as exc:
        raise contacts.InvalidField(reason=exc.message) from exc
    if values.get("name"):
        values["name_key"] = normalise.company_key(values["name"]) or values["name"].strip().lower()
    return values


def match(
    session: Session, workspace_id: int, name: str | None, domain: str | None
) -> Account | None:
    """The account a company name or domain means: domain first, then the normalised name."""
    if domain:
        found = session.scalar(
            select(Account)
            .where(Account.workspace_id == workspace_id, Account.domain == domain)
            .order_by(Account.id)
            .limit(1)
        )
        if found is not None:
            return found
    if name:
        key = normalise.company_key(name) or name.strip().lower()
        return session.scalar(
            select(Account)
            .where(Account.workspace_id == workspace_id, Account.name_key == key)
            .order_by(Account.id)
            .limit(1)
        )
    return None


def join_company(
    session: Session,
    workspace_id: int,
    contact_id: int,
    name: str | None,
    domain: str | None,
    now: datetime,
) -> Account | None:
    """Put a contact at the account a company name or domain means, made when none matches
    (forms: the person said where they work). Existing links are kept as they are."""
    try:
        domain = normalise.domain(domain) if domain else None
    except InvalidValue:
        domain = None
    name = (name or "").strip()[:200] or None
    if not (name or domain):
        return None
    account = match(session, workspace_id, name, domain)
    if account is None:
        values = _clean(
            session, workspace_id, {"name": name or domain, "domain": domain}, complete=False
        )
        account = Account(
            workspace_id=workspace_id, created_at=now, updated_at=now, custom={}, **values
        )
        session.add(account)
        session.flush()
    if session.get(ContactAccount, (workspace_id, contact_id, account.id)) is None:
        session.add(
            ContactAccount(
                workspace_id=workspace_id,
                contact_id=contact_id,
                account_id=account.id,
                created_at=now,
            )
        )
        session.flush()
    return account


def create(session: Session, actor: Principal, data: AccountIn, now: datetime) -> Account:
    actor.require("accounts:write")
    values = _clean(session, actor.workspace_id, data.model_dump(), complete=True)
    account = Account(workspace_id=actor.workspace_id, created_at=now, updated_at=now, **values)
    session.add(account)
    session.flush()
    return account


def update(
    session: Session, actor: Principal, account_id: int, changes: Mapping[str, Any], now: datetime
) -> Account:
    account = get(session, actor, account_id, write=True)
    values = _clean(session, actor.workspace_id, dict(changes), complete=False)
    if "custom" in values:
        custom = dict(account.custom or {})
        custom.update(values.pop("custom") or {})
        account.custom = {k: v for k, v in custom.items() if v is not None}
    for name, value in values.items():
        setattr(account, name, value)
    account.updated_at = now
    session.flush()
    written = [f"account.{k}" for k in values] + [
        f"account.custom.{k}" for k in changes.get("custom") or {}
    ]
    events.profile_updated(session, actor.workspace_id, _members(session, account), written, now)
    return account


def _members(session: Session, account: Account) -> list[int]:
    return list(
        session.scalars(
            select(ContactAccount.contact_id).where(
                ContactAccount.workspace_id == account.workspace_id,
                ContactAccount.account_id == account.id,
            )
        )
    )


def link(
    session: Session,
    actor: Principal,
    account_id: int,
    contact_id: int,
    data: LinkIn,
    now: datetime,
) -> ContactAccount:
    """Put a contact at an account (or change their role, title or manager there)."""
    account = get(session, actor, account_id, write=True)
    contact = contacts.get(session, actor, contact_id, write=True)
    if data.reports_to_id is not None:
        boss = session.get(ContactAccount, (actor.workspace_id, data.reports_to_id, account.id))
        if (
            boss is None
            or data.reports_to_id == contact.id
            or _reports_chain(
                session, actor.workspace_id, account.id, data.reports_to_id, contact.id
            )
        ):
            raise ReportsOutside()
    row = session.get(ContactAccount, (actor.workspace_id, contact.id, account.id))
    if row is None:
        row = ContactAccount(
            workspace_id=actor.workspace_id,
            contact_id=contact.id,
            account_id=account.id,
            created_at=now,
        )
        session.add(row)
    row.role, row.title, row.reports_to_id = data.role, data.title, data.reports_to_id
    session.flush()
    events.profile_updated(session, actor.workspace_id, [contact.id], ["accounts"], now)
    return row


def _reports_chain(
    session: Session, workspace_id: int, account_id: int, start: int, target: int
) -> bool:
    """Whether ``target`` is ``start`` or among its managers: making ``start`` the manager of
    ``target`` would then close a loop."""
    rows = session.execute(
        select(ContactAccount.contact_id, ContactAccount.reports_to_id).where(
            ContactAccount.workspace_id == workspace_id, ContactAccount.account_id == account_id
        )
    ).all()
    boss = {c: r for c, r in rows}
    seen: set[int] = set()
    current: int | None = start
    while current is not None and current not in seen:
        if current == target:
            return True
        seen.add(current)
        current = boss.get(current)
    return False


def unlink(session: Session, actor: Principal, account_id: int, contact_id: int) -> None:
    account = get(session, actor, account_id, write=True)
    row = session.get(ContactAccount, (actor.workspace_id, contact_id, account.id))
    if row is None:
        raise NotFound(resource=N_("Contact"))
    for report in session.scalars(
        select(ContactAccount).where(
            ContactAccount.workspace_id == actor.workspace_id,
            ContactAccount.account_id == account.id,
            ContactAccount.reports_to_id == contact_id,
        )
    ):
        report.reports_to_id = row.reports_to_id  # their manager's manager takes them
    session.delete(row)
    session.flush()
    events.profile_updated(session, actor.workspace_id, [contact_id], ["accounts"], utcnow())


def org_chart(session: Session, actor: Principal, account_id: int) -> list[MemberLinkOut]:
    """The account's active contacts as a forest: people who report to no one at the top."""
    account = get(session, actor, account_id)
    rows = session.execute(
        select(ContactAccount, Contact)
        .join(
            Contact,
            (Contact.workspace_id == ContactAccount.workspace_id)
            & (Contact.id == ContactAccount.contact_id),
        )
        .where(
            ContactAccount.workspace_id == actor.workspace_id,
            ContactAccount.account_id == account.id,
            Contact.status == "active",
        )
        .order_by(Contact.name_key, Contact.id)
    ).all()
    sees = auth.sees_owner(session, actor)
    nodes = {
        link_.contact_id: MemberLinkOut(
            contact_id=link_.contact_id,
            # someone outside the reader's data scope keeps their place in the chart, unnamed
            name=c.name if sees(c.owner_id) else None,
            email=c.email if sees(c.owner_id) else None,
            role=link_.role,
            title=link_.title,
            reports_to_id=link_.reports_to_id,
        )
        for link_, c in rows
    }
    roots: list[MemberLinkOut] = []
    for node in nodes.values():
        parent = nodes.get(node.reports_to_id) if node.reports_to_id is not None else None
        if parent is not None and _loops(nodes, node.contact_id):
            parent = None  # a reporting loop (old data): show the node at the top, not forever
        (parent.reports if parent is not None else roots).append(node)
    return roots


def _loops(nodes: dict[int, MemberLinkOut], start: int) -> bool:
    seen: set[int] = set()
    current: int | None = start
    while current is not None and current in nodes:
        if current in seen:
            return True
        seen.add(current)
        current = nodes[current].reports_to_id
    return False


def accounts_of(
    session: Session, actor: Principal, contact_id: int
) -> list[tuple[Account, ContactAccount]]:
    stmt = (
        select(Account, ContactAccount)
        .join(
            ContactAccount,
            (ContactAccount.workspace_id == Account.workspace_id)
            & (ContactAccount.account_id == Account.id),
        )
        .where(
            ContactAccount.workspace_id == actor.workspace_id,
            ContactAccount.contact_id == contact_id,
            visible(session, actor),
        )
        .order_by(Account.name_key)
    )
    return [(a, link_) for a, link_ in session.execute(stmt).all()]
