"""Lifecycle stages and moves: the workspace's funnel (the default one materialised on first
use), moving contacts by hand or through the API (backward moves allowed and flagged), the
stage history and the funnel report.

Every move — whatever its cause — is written by ``lifecycle.moves.write`` (a stage change,
``contact.stage``) and recorded as a ``stage_changed`` event through the event store, so it is
on the contact's timeline and flows through the reactors (segments, journeys) like any fact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Row, and_, delete, exists, func, select
from sqlalchemy.orm import Session, aliased

from guanxi.auth.principal import Principal
from guanxi.contact import collisions
from guanxi.contact import service as contacts
from guanxi.errors import AlreadyExists, Conflict, NotFound, ValidationFailed
from guanxi.event import service as events
from guanxi.i18n import LANGUAGES, N_, gettext
from guanxi.kit.clock import utcnow
from guanxi.kit.ids import new_id
from guanxi.kit.pagination import SortSpec, paginate
from guanxi.lifecycle import moves
from guanxi.lifecycle.moves import Ladder, Move
from guanxi.lifecycle.rules import RULE
from guanxi.models import Contact, Job, LifecycleStage, StageChange
from guanxi.segment.service import checked
from guanxi.worker import jobs

F = TypeVar("F", bound=BaseModel)
REAPPLY = "lifecycle_rules"  # the job kind that applies entry rules to every contact

# The default funnel (B2B practice: a lead becomes marketing-qualified by its score, sales
# accept it, qualify it, open an opportunity, win a customer, who may become an advocate).
DEFAULTS: tuple[tuple[str, str, str], ...] = (
    ("subscriber", N_("Subscriber"), "funnel"),
    ("lead", N_("Lead"), "funnel"),
    ("mql", N_("Marketing qualified lead (MQL)"), "funnel"),
    ("sal", N_("Sales accepted lead (SAL)"), "funnel"),
    ("sql", N_("Sales qualified lead (SQL)"), "funnel"),
    ("opportunity", N_("Opportunity"), "funnel"),
    ("customer", N_("Customer"), "funnel"),
    ("advocate", N_("Advocate"), "funnel"),
    ("churned", N_("Churned"), "exit"),
)


class UnknownStage(ValidationFailed):
    code = "unknown_stage"
    message = N_("There is no stage {stage} in this workspace.")


class StageInUse(Conflict):
    code = "stage_in_use"
    message = N_("{count} contacts are in this stage: move them to another stage first.")


class LastFunnelStage(Conflict):
    code = "last_funnel_stage"
    message = N_("The funnel needs at least one stage.")


class InvalidOrder(ValidationFailed):
    code = "invalid_stage_order"
    message = N_("The order must name every stage once.")


class StageRequired(ValidationFailed):
    code = "stage_required"
    message = N_("A contact in the lifecycle cannot leave it: move it to another stage.")


class InvalidPeriod(ValidationFailed):
    code = "invalid_period"
    message = N_("The period must start before it ends.")


# -- stages ----------------------------------------------------------------------------------


def _stored(session: Session, workspace_id: int) -> list[LifecycleStage]:
    return list(
        session.scalars(
            select(LifecycleStage)
            .where(LifecycleStage.workspace_id == workspace_id)
            .order_by(LifecycleStage.position, LifecycleStage.id)
        )
    )


def _defaults(workspace_id: int) -> list[LifecycleStage]:
    return [
        LifecycleStage(
            workspace_id=workspace_id,
            id=new_id(),
            key=key,
            name=name,
            position=position,
            kind=kind,
            entry_rule=None,
        )
        for position, (key, name, kind) in enumerate(DEFAULTS)
    ]


def stages(session: Session, workspace_id: int) -> list[LifecycleStage]:
    """The workspace's stages in order; the default funnel is written on first use."""
    rows = _stored(session, workspace_id)
    if rows:
        return rows
    rows = _defaults(workspace_id)
    session.add_all(rows)
    session.flush()
    return rows


def peek(session: Session, workspace_id: int) -> list[LifecycleStage]:
    """The stages as ``stages`` gives them, writing nothing (for readers such as an import's
    planning): the default funnel, unsaved, until the workspace has its own."""
    return _stored(session, workspace_id) or _defaults(workspace_id)


def label(stage: LifecycleStage, language: str) -> str:
    """A stage's name in ``language``: the default names are translated, given ones are not."""
    return gettext(stage.name, language)  # type: ignore[arg-type]


def list_stages(session: Session, actor: Principal) -> list[LifecycleStage]:
    actor.require("lifecycle:read")
    return stages(session, actor.workspace_id)


def get_stage(session: Session, actor: Principal, stage_id: int) -> LifecycleStage:
    actor.require("lifecycle:read")
    stage = session.get(LifecycleStage, (actor.workspace_id, stage_id))
    if stage is None:
        raise NotFound(resource=N_("Stage"))
    return stage


def find(rows: Sequence[LifecycleStage], text: str) -> LifecycleStage | None:
    """The stage ``text`` names: its key, or (as people type them in a spreadsheet) the key
    in other case or its name in either language."""
    wanted = text.strip()
    for stage in rows:
        if stage.key == wanted:
            return stage
    folded = wanted.casefold()
    for stage in rows:
        names = {stage.key, stage.name, *(gettext(stage.name, lang) for lang in LANGUAGES)}
        if folded in {n.casefold() for n in names}:
            return stage
    return None


def _rule(session: Session, workspace_id: int, tree: Any) -> dict[str, Any] | None:
    if tree is None:
        return None
    tree = RULE.validate_python(tree)  # a patch's changes hold it as a dict
    checked(session, workspace_id, tree)
    return RULE.dump_python(tree, mode="json")  # type: ignore[no-any-return]


def _renumber(rows: Sequence[LifecycleStage]) -> None:
    for position, stage in enumerate(rows):
        stage.position = position


def create_stage(
    session: Session,
    actor: Principal,
    *,
    key: str,
    name: str,
    kind: str,
    before: str | None,
    entry_rule: Any,
) -> LifecycleStage:
    actor.require("lifecycle:write")
    rows = stages(session, actor.workspace_id)
    if any(s.key == key for s in rows):
        raise AlreadyExists(resource=N_("Stage"))
    at = len(rows)
    if before is not None:
        at = next((i for i, s in enumerate(rows) if s.key == before), -1)
        if at < 0:
            raise UnknownStage(stage=before)
    stage = LifecycleStage(
        workspace_id=actor.workspace_id,
        id=new_id(),
        key=key,
        name=name,
        kind=kind,
        position=at,
        entry_rule=_rule(session, actor.workspace_id, entry_rule),
    )
    rows.insert(at, stage)
    _renumber(rows)
    session.add(stage)
    session.flush()
    return stage


def update_stage(
    session: Session, actor: Principal, stage_id: int, changes: Mapping[str, Any]
) -> LifecycleStage:
    """Rename a stage or change its entry rule. A new rule applies to contacts as their events
    arrive; ``start_reapply`` applies it to everyone now."""
    actor.require("lifecycle:write")
    stage = get_stage(session, actor, stage_id)
    if "name" in changes:
        stage.name = changes["name"]
    if "entry_rule" in changes:
        stage.entry_rule = _rule(session, actor.workspace_id, changes["entry_rule"])
    session.flush()
    return stage


def reorder(session: Session, actor: Principal, keys: Sequence[str]) -> list[LifecycleStage]:
    actor.require("lifecycle:write")
    rows = {s.key: s for s in stages(session, actor.workspace_id)}
    if len(keys) != len(set(keys)) or set(keys) != rows.keys():
        raise InvalidOrder(details={"stages": sorted(rows)})
    ordered = [rows[k] for k in keys]
    _renumber(ordered)
    session.flush()
    return ordered


def delete_stage(session: Session, actor: Principal, stage_id: int) -> None:
    """Refused while active contacts are in the stage; its history stays (keyed by name)."""
    actor.require("lifecycle:write")
    stage = get_stage(session, actor, stage_id)
    held = session.scalar(
        select(func.count())
        .select_from(Contact)
        .where(
            Contact.workspace_id == actor.workspace_id,
            Contact.status == "active",
            Contact.stage == stage.key,
        )
    )
    if held:
        raise StageInUse(count=held, details={"contacts": held})
    rest = [s for s in stages(session, actor.workspace_id) if s.id != stage.id]
    if stage.kind == "funnel" and not any(s.kind == "funnel" for s in rest):
        raise LastFunnelStage()
    session.execute(
        delete(LifecycleStage).where(
            LifecycleStage.workspace_id == actor.workspace_id, LifecycleStage.id == stage.id
        )
    )
    session.expunge(stage)
    _renumber(rest)
    session.flush()


# -- moves -----------------------------------------------------------------------------------


def cause_of(actor: Principal) -> str:
    """A person in the console moves as ``user``; an integration's key as ``api``."""
    return "user" if actor.via == "session" else "api"


def writable(session: Session, actor: Principal, contact_id: int) -> Contact:
    """A contact the actor may move: ``stages:write``, in their data scope, active. Moving
    someone else's contact is a collision, as any write is."""
    actor.require("stages:write")
    contact = session.scalar(
        select(Contact).where(
            Contact.workspace_id == actor.workspace_id,
            Contact.id == contact_id,
            Contact.status == "active",
            contacts.visible(session, actor),
        )
    )
    if contact is None:
        raise NotFound(resource=N_("Contact"))
    collisions.touched(
        session, actor, "contact", contact.id, contact.owner_id, contact.name, "write", utcnow()
    )
    return contact


def known(session: Session, workspace_id: int, key: str) -> LifecycleStage:
    """The stage with this key, or 422 ``unknown_stage``."""
    stage = next((s for s in stages(session, workspace_id) if s.key == key), None)
    if stage is None:
        raise UnknownStage(stage=key)
    return stage


def set_stage(
    session: Session,
    contact: Contact,
    key: str,
    *,
    cause: str,
    actor_id: int | None,
    now: datetime,
    note: str | None = None,
) -> StageChange | None:
    """Move one contact (its write access checked by the caller) into stage ``key``; None when
    it is there already. Backward moves are allowed and flagged."""
    ws = contact.workspace_id
    known(session, ws, key)
    current = contact.stage
    if current == key:
        return None
    ladder = Ladder(stages(session, ws))
    move = Move(contact.id, current, key, cause, ladder.backward(current, key), actor_id, note)
    ids, drafts = moves.write(session, ws, [move], now)
    events.store(session, ws, drafts, now)
    return session.get(StageChange, (ws, ids[0]))


def move(
    session: Session, actor: Principal, contact_id: int, key: str, note: str | None, now: datetime
) -> tuple[Contact, StageChange | None]:
    """A move by hand (console) or through the API."""
    contact = writable(session, actor, contact_id)
    change = set_stage(
        session, contact, key, cause=cause_of(actor), actor_id=actor.user_id, now=now, note=note
    )
    return contact, change


def split_stage(values: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Contact field values without ``stage`` (which the lifecycle writes), and the stage."""
    rest = dict(values)
    return rest, rest.pop("stage", None)


def without_stage(fields: F) -> F:
    """Contact fields as sent, without ``stage`` (which the lifecycle writes, as a move)."""
    kept = {k: getattr(fields, k) for k in type(fields).model_fields if k != "stage"}
    return type(fields).model_construct(fields.model_fields_set - {"stage"}, **kept)


def write_field(
    session: Session, actor: Principal, contact: Contact, key: str | None, now: datetime
) -> None:
    """``stage`` written as a contact field (API, console form): a move, or 422 for an unknown
    stage. A contact cannot leave the lifecycle: an empty stage is refused too."""
    if key is None:
        if contact.stage is not None:
            raise StageRequired()
        return
    if key == contact.stage:
        return
    actor.require("stages:write")
    set_stage(session, contact, key, cause=cause_of(actor), actor_id=actor.user_id, now=now)


def record_import(
    session: Session,
    workspace_id: int,
    changes: Sequence[tuple[int, str | None, str]],
    job_id: int,
    actor_id: int | None,
    now: datetime,
) -> None:
    """Moves an import batch makes (contact, from, to; stages checked when it was planned),
    written as history (cause ``import``, noted with the job) and events (from the job):
    cancelling the import removes both."""
    if not changes:
        return
    ladder = Ladder(stages(session, workspace_id))
    mark = f"import:{job_id}"
    found = [
        Move(c, old, new, "import", ladder.backward(old, new), actor_id, mark)
        for c, old, new in changes
        if old != new
    ]
    _, drafts = moves.write(session, workspace_id, found, now, source=mark)
    events.store(session, workspace_id, drafts, now)


# -- history and the funnel ------------------------------------------------------------------

HISTORY_SORT = SortSpec(
    fields={"changed_at": StageChange.changed_at}, tiebreak=StageChange.id, default="-changed_at"
)


def history(
    session: Session, actor: Principal, contact_id: int, *, limit: int, cursor: str | None
) -> tuple[Sequence[Row[Any]], str | None]:
    """A contact's moves, newest first."""
    contact = contacts.get(session, actor, contact_id)
    stmt = select(StageChange).where(
        StageChange.workspace_id == actor.workspace_id, StageChange.contact_id == contact.id
    )
    return paginate(session, stmt, HISTORY_SORT, sort="-changed_at", limit=limit, cursor=cursor)


@dataclass(frozen=True)
class FunnelRow:
    stage: LifecycleStage
    current: int
    entered: int
    advanced: int | None

    @property
    def conversion(self) -> float | None:
        if self.advanced is None or not self.entered:
            return None
        return round(self.advanced / self.entered, 4)


def funnel(session: Session, actor: Principal, since: datetime, until: datetime) -> list[FunnelRow]:
    """Per stage: contacts in it now; contacts that entered it in [since, until); and of those,
    how many went on to a later funnel stage before ``until`` (skipping stages counts) — all
    among the contacts the actor may see."""
    actor.require("lifecycle:read")
    if since >= until:
        raise InvalidPeriod()
    ws = actor.workspace_id
    rows = stages(session, ws)
    seen = contacts.visible(session, actor)
    current = dict(
        session.execute(
            select(Contact.stage, func.count())
            .where(Contact.workspace_id == ws, Contact.status == "active", seen)
            .group_by(Contact.stage)
        ).all()
    )
    a, b = aliased(StageChange), aliased(StageChange)
    sa, sb = aliased(LifecycleStage), aliased(LifecycleStage)
    in_period = and_(a.workspace_id == ws, a.changed_at >= since, a.changed_at < until)
    of_contact = and_(Contact.workspace_id == a.workspace_id, Contact.id == a.contact_id)
    entered = dict(
        session.execute(
            select(a.to_stage, func.count(a.contact_id.distinct()))
            .join(Contact, of_contact)
            .where(in_period, seen)
            .group_by(a.to_stage)
        ).all()
    )
    later = exists(
        select(b.id)
        .join(sb, and_(sb.workspace_id == b.workspace_id, sb.key == b.to_stage))
        .where(
            b.workspace_id == a.workspace_id,
            b.contact_id == a.contact_id,
            b.changed_at >= a.changed_at,
            b.changed_at < until,
            sb.kind == "funnel",
            sb.position > sa.position,
        )
    )
    advanced = dict(
        session.execute(
            select(a.to_stage, func.count(a.contact_id.distinct()))
            .join(sa, and_(sa.workspace_id == a.workspace_id, sa.key == a.to_stage))
            .join(Contact, of_contact)
            .where(in_period, seen, sa.kind == "funnel", later)
            .group_by(a.to_stage)
        ).all()
    )
    last = max((s.position for s in rows if s.kind == "funnel"), default=-1)
    return [
        FunnelRow(
            s,
            current.get(s.key, 0),
            entered.get(s.key, 0),
            advanced.get(s.key, 0) if s.kind == "funnel" and s.position < last else None,
        )
        for s in rows
    ]


# -- applying entry rules to every contact ---------------------------------------------------


def start_reapply(session: Session, actor: Principal) -> Job:
    """Apply the entry rules to every contact now (after a rule changed), as a worker job."""
    actor.require("lifecycle:write")
    stages(session, actor.workspace_id)
    return jobs.enqueue(session, actor.workspace_id, REAPPLY, {}, actor.user_id)


def get_reapply(session: Session, actor: Principal, job_id: int) -> Job:
    actor.require("lifecycle:read")
    job = session.get(Job, (actor.workspace_id, job_id))
    if job is None or job.kind != REAPPLY:
        raise NotFound(resource=N_("Job"))
    return job
