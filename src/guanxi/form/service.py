"""Forms: definitions, what a visitor is asked (progressive profiling), and submissions.

A submission is checked field by field (errors in the form's language, nothing stored when
one is wrong), then: the person is resolved through the identity service with the browser's
anonymous id (their anonymous visits join their timeline; two people guanxi knows are never
merged on a form's word), fields are written (empty ones filled; an answer replaces an old
value only when the browser is already known as that person), the company becomes an account link, a ticked consent box an
opt-in, and a ``form_submit`` event with the page's UTM tags is recorded (which sets first/last
touch). A filled honeypot is answered like a success and stores nothing; more than the form's
hourly limit from one address is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guanxi.account import service as accounts
from guanxi.auth.principal import Principal, WholeWorkspaceNeeded
from guanxi.contact import fields as custom_fields
from guanxi.contact import service as contacts
from guanxi.contact.schemas import ContactFields
from guanxi.errors import Conflict, GuanxiError, InvalidValue, NotFound
from guanxi.event import service as events
from guanxi.event.records import Draft
from guanxi.event.touch import UTM_KEYS
from guanxi.form.schemas import FormField, FormIn, PublicField, PublicForm
from guanxi.i18n import N_, Language, Message, gettext
from guanxi.identity import service as resolution
from guanxi.identity.rules import Key, Kind
from guanxi.kit.ids import new_id
from guanxi.kit.pagination import SortSpec, paginate
from guanxi.kit.secrets import new_token
from guanxi.models import Contact, Form, FormSubmission
from guanxi.tracking import service as tracking

HONEYPOT = "website"


class InvalidSubmission(GuanxiError):
    status = 422
    code = "invalid_submission"
    message = N_("Please check the form: {reason}")


class UnknownTarget(GuanxiError):
    status = 422
    code = "unknown_custom_field"
    message = N_("The form asks for custom field {key}, which does not exist.")


class TooManySubmissions(GuanxiError):
    status = 429
    code = "too_many_submissions"
    message = N_("Too many submissions from this address. Please try again later.")


class FormClosed(Conflict):
    code = "form_closed"
    message = N_("This form no longer takes answers.")


# -- definitions ------------------------------------------------------------------------------


def get(session: Session, actor: Principal, form_id: int) -> Form:
    actor.require("contacts:read")
    form = session.get(Form, (actor.workspace_id, form_id))
    if form is None:
        raise NotFound(resource=N_("Form"))
    return form


def by_key(session: Session, public_key: str) -> Form:
    form = session.scalar(select(Form).where(Form.public_key == public_key))
    if form is None:
        raise NotFound(resource=N_("Form"))
    return form


def list_forms(session: Session, actor: Principal) -> Sequence[Form]:
    actor.require("contacts:read")
    stmt = select(Form).where(Form.workspace_id == actor.workspace_id)
    return session.scalars(stmt.order_by(Form.created_at.desc())).all()


def _check_custom(session: Session, workspace_id: int, data: FormIn) -> None:
    defined = custom_fields.definitions(session, workspace_id, "contact")
    for field in data.fields:
        if field.key.startswith("custom.") and field.key[7:] not in defined:
            raise UnknownTarget(key=field.key[7:], details={"field": field.key})


def create(session: Session, actor: Principal, data: FormIn, now: datetime) -> Form:
    actor.require("contacts:write")
    _check_custom(session, actor.workspace_id, data)
    form = Form(
        workspace_id=actor.workspace_id,
        public_key=new_token(12)[:16],
        name=data.name,
        language=data.language,
        status="active",
        fields=[f.model_dump(mode="json") for f in data.fields],
        settings=data.settings.model_dump(mode="json"),
        created_at=now,
        updated_at=now,
    )
    session.add(form)
    session.flush()
    return form


def update(session: Session, actor: Principal, form_id: int, data: FormIn, now: datetime) -> Form:
    actor.require("contacts:write")
    form = get(session, actor, form_id)
    _check_custom(session, actor.workspace_id, data)
    form.name, form.language = data.name, data.language
    form.fields = [f.model_dump(mode="json") for f in data.fields]
    form.settings = data.settings.model_dump(mode="json")
    form.updated_at = now
    session.flush()
    return form


def set_status(
    session: Session, actor: Principal, form_id: int, status: str, now: datetime
) -> Form:
    actor.require("contacts:write")
    form = get(session, actor, form_id)
    form.status, form.updated_at = status, now
    session.flush()
    return form


SUBMISSION_SORT = SortSpec(
    fields={"created_at": FormSubmission.created_at},
    tiebreak=FormSubmission.id,
    default="-created_at",
)


def submissions(
    session: Session, actor: Principal, form_id: int, *, limit: int, cursor: str | None
) -> tuple[Sequence[Any], str | None]:
    """Answers name people across the workspace: a member needs a data scope of all."""
    form = get(session, actor, form_id)
    if actor.data_scope.value != "all":
        raise WholeWorkspaceNeeded()
    stmt = select(FormSubmission).where(
        FormSubmission.workspace_id == actor.workspace_id, FormSubmission.form_id == form.id
    )
    return paginate(session, stmt, SUBMISSION_SORT, sort="-created_at", limit=limit, cursor=cursor)


# -- what a visitor sees ---------------------------------------------------------------------


def _fields(form: Form) -> list[FormField]:
    return [FormField.model_validate(f) for f in form.fields]


def _known(contact: Contact, field: FormField) -> bool:
    if field.key in ("email", "phone", "name", "title", "city", "province", "country", "gender"):
        return bool(getattr(contact, field.key))
    if field.key.startswith("custom."):
        return (contact.custom or {}).get(field.key[7:]) not in (None, "", [])
    return False


def public_form(session: Session, form: Form, anonymous_id: str | None) -> PublicForm:
    """The form as a visitor sees it; a visitor the browser is known as is not asked again for
    what their profile has (progressive profiling), though at least one field is always left."""
    if form.status != "active":
        raise FormClosed()
    fields = [f for f in _fields(form) if f.type != "hidden"]
    contact = _visitor(session, form.workspace_id, anonymous_id)
    if contact is not None and form.settings.get("progressive", True):
        asked = [f for f in fields if not _known(contact, f)]
        fields = asked or fields[:1]
    language: Language = form.language  # type: ignore[assignment]
    return PublicForm(
        name=form.name,
        language=language,
        fields=[
            PublicField(
                key=f.key, label=f.label, type=f.type, required=f.required, options=f.options
            )
            for f in fields
        ],
        submit_label=gettext(N_("Submit"), language),
        honeypot=HONEYPOT,
    )


def _visitor(session: Session, workspace_id: int, anonymous_id: str | None) -> Contact | None:
    if not anonymous_id:
        return None
    found = resolution.lookup(session, workspace_id, [Key(Kind.anonymous_id, "", anonymous_id)])
    if not found:
        return None
    return session.get(Contact, (workspace_id, next(iter(found.values()))))


# -- submitting ------------------------------------------------------------------------------


def _value(field: FormField, raw: Any) -> Any:
    """The answer to one field, typed; InvalidValue when it is not one."""
    if field.type in ("checkbox", "consent"):
        return raw in (True, "true", "on", "1", "yes")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise InvalidValue(N_("{label}: not a single value"), label=field.label)
    text = str(raw).strip()
    if "\x00" in text:
        raise InvalidValue(N_("{label}: not a single value"), label=field.label)
    if len(text) > 2000:
        raise InvalidValue(N_("{label}: too long"), label=field.label)
    if field.type == "number":
        try:
            return float(text) if "." in text else int(text)
        except ValueError:
            raise InvalidValue(N_("{label}: not a number"), label=field.label) from None
    if field.type == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise InvalidValue(N_("{label}: not a date"), label=field.label) from None
    if field.type == "select" and text not in field.options:
        raise InvalidValue(N_("{label}: not one of the choices"), label=field.label)
    return text


def ip_hash(secret: str, ip: str | None) -> str:
    """Addresses are not kept, only a keyed hash to count submissions per address."""
    return hashlib.sha256(f"{secret}:{ip or '-'}".encode()).hexdigest()[:32]


def submit(
    session: Session,
    form: Form,
    values: Mapping[str, Any],
    *,
    anonymous_id: str | None,
    context: Mapping[str, Any],
    ip: str,
    now: datetime,
) -> tuple[bool, int | None]:
    """Take a submission. Returns (rotate the browser's anonymous id, submission id) — the id is
    None when the honeypot was filled (answered like a success, stored nothing)."""
    if form.status != "active":
        raise FormClosed()
    if str(values.get(HONEYPOT) or "").strip():
        return False, None
    limit = int(form.settings.get("per_ip_per_hour", 10))
    recent = session.scalar(
        select(func.count())
        .select_from(FormSubmission)
        .where(
            FormSubmission.workspace_id == form.workspace_id,
            FormSubmission.ip_hash == ip,
            FormSubmission.created_at >= now - timedelta(hours=1),
        )
    )
    if (recent or 0) >= limit:
        raise TooManySubmissions()

    visitor = _visitor(session, form.workspace_id, anonymous_id)
    answers: dict[str, Any] = {}
    try:
        for field in _fields(form):
            answer = field.value if field.type == "hidden" else _value(field, values.get(field.key))
            if field.required and answer in (None, False):
                if visitor is not None and _known(visitor, field):
                    continue  # not asked: the profile has it (progressive profiling)
                raise InvalidValue(N_("{label} is required"), label=field.label)
            if answer is not None:
                answers[field.key] = answer
    except InvalidValue as exc:
        raise InvalidSubmission(reason=exc.message) from exc

    standard = {
        k: v
        for k, v in answers.items()
        if k
        in ("name", "email", "phone", "title", "gender", "city", "province", "country", "language")
    }
    custom = {k[7:]: v for k, v in answers.items() if k.startswith("custom.")}
    try:
        fields = ContactFields.model_validate(standard)
    except ValidationError as exc:
        error = exc.errors()[0]
        cause = (error.get("ctx") or {}).get("error")
        labels = {f.key: f.label for f in _fields(form)}
        raise InvalidSubmission(
            reason=Message(
                N_("{field}: {reason}"),
                field=labels.get(str(error["loc"][0]), str(error["loc"][0])),
                reason=cause.message if isinstance(cause, InvalidValue) else error["msg"],
            )
        ) from exc
    clean_custom = contacts.clean_custom(session, form.workspace_id, custom, complete=False)
    keys = tracking.trait_keys(fields)
    if not keys and visitor is None:
        raise InvalidSubmission(reason=Message(N_("give an email or a phone number")))
    source = form.settings.get("source") or f"form:{form.name}"[:120]
    contact_id, rotate = tracking.identify_visitor(
        session,
        form.workspace_id,
        anonymous_id,
        keys,
        {"source": source},
        source=source,
        now=now,
    )
    contact = session.get(Contact, (form.workspace_id, contact_id))
    assert contact is not None
    written = fields.model_dump(exclude_unset=True, exclude={"custom"})
    # A person's new answer replaces an old one only when the browser is theirs already: a form
    # anyone can fill in with someone's email fills that contact's gaps, it does not rewrite it.
    theirs = visitor is not None and visitor.id == contact.id
    contacts.apply(contact, {**written, "custom": clean_custom}, overwrite=theirs, now=now)
    if answers.get("company") or answers.get("company_domain"):
        accounts.join_company(
            session,
            form.workspace_id,
            contact.id,
            answers.get("company"),
            answers.get("company_domain"),
            now,
        )
    for key, ticked in answers.items():
        if key.startswith("consent.") and ticked:
            contacts.record_consent(
                session, form.workspace_id, contact.id, key[8:], "opt_in", f"form:{form.name}", now
            )
    touch = {k: str(context[k])[:200] for k in (*UTM_KEYS, "url", "referrer") if context.get(k)}
    submission = FormSubmission(
        workspace_id=form.workspace_id,
        id=new_id(),
        form_id=form.id,
        contact_id=contact.id,
        values=answers,
        context=touch,
        ip_hash=ip,
        created_at=now,
    )
    session.add(submission)
    session.flush()
    events.store(
        session,
        form.workspace_id,
        [
            Draft(
                contact_id=contact.id,
                type="form_submit",
                occurred_at=now,
                properties={"form_id": str(form.id), "form_name": form.name, **touch},
                channel="web",
                source="form",
                key=f"form:{submission.id}",
            )
        ],
        now,
    )
    return rotate, submission.id


def thank_you(form: Form) -> str:
    language: Language = form.language  # type: ignore[assignment]
    return form.settings.get("thank_you") or gettext(
        N_("Thank you! We have received your answers."), language
    )
