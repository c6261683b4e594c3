"""The condition language's set evaluator: a condition tree as one SQLAlchemy boolean over
``contact`` (both dialects), to select the contacts that match — segments, previews, bulk
journeys. It must agree with ``conditions.evaluate`` on every tree and every contact; the
property test in ``tests/segment/test_conditions.py`` holds the two equal.

Every expression here is definite — true or false, never NULL — so that ``not`` inverts exactly
as Python's ``not`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB

from guanxi.models import (
    Account,
    Contact,
    ContactAccount,
    ContactScore,
    ContactTag,
    Event,
    ScorePoint,
    SegmentMember,
)
from guanxi.scoring import decay
from guanxi.segment.conditions import (
    AccountCond,
    And,
    EventCond,
    EventTimeCond,
    FieldCond,
    GradeCond,
    Not,
    Or,
    PropFilter,
    Schema,
    ScoreCond,
    SegmentCond,
    TagCond,
)


def _definite(expr: ColumnElement[Any]) -> ColumnElement[bool]:
    return func.coalesce(expr, false())


def _contains(expr: Any, value: str, dialect: str) -> ColumnElement[bool]:
    """``value`` occurs in ``expr``, exactly (no LIKE: no case folding, no wildcards)."""
    if dialect == "postgresql":
        return func.strpos(expr, value) > 0
    return func.instr(expr, value) > 0


def _json_typed(column: Any, key: str, kind: str, dialect: str) -> ColumnElement[Any]:
    """The value at ``key`` of a JSON column when it is of ``kind`` (text, number, boolean,
    list), else NULL."""
    if dialect == "postgresql":
        pg = {"text": "string", "number": "number", "boolean": "boolean", "list": "array"}[kind]
        value: Any = column[key].as_string()
        if kind == "number":
            value = cast(value, Float)
        elif kind == "boolean":
            value = cast(value, Boolean)
        return case((func.jsonb_typeof(column[key]) == pg, value))
    path = f"$.{key}"
    lite = {
        "text": ("text",),
        "number": ("integer", "real"),
        "boolean": ("true", "false"),
        "list": ("array",),
    }[kind]
    raw = func.json_extract(column, path)
    if kind == "list":
        raw = func.json(func.json_extract(column, path))
    return case((func.json_type(column, path).in_(lite), raw))


_JSON_KIND = {
    "text": "text",
    "select": "text",
    "date": "text",
    "number": "number",
    "boolean": "boolean",
    "multi_select": "list",
}


def _compare(
    expr: Any, kind: str, op: str, value: Any, dialect: str, *, multi: Any = None
) -> ColumnElement[bool]:
    """The SQL twin of ``conditions.compare``: ``expr`` is NULL when the value is not set."""
    if kind == "multi_select":
        is_set = and_(expr.is_not(None), expr != "[]")
    elif kind in ("number", "boolean"):
        is_set = expr.is_not(None)
    else:
        is_set = and_(expr.is_not(None), expr != "")
    if op == "is_set":
        return _definite(is_set)
    if op == "is_not_set":
        return not_(_definite(is_set))
    if kind == "multi_select":
        assert multi is not None
        test: ColumnElement[Any] = multi
    elif op == "eq":
        test = expr == value
    elif op == "ne":
        test = expr != value
    elif op == "in":
        test = expr.in_(list(value))
    elif op == "not_in":
        test = expr.not_in(list(value))
    elif op == "contains":
        test = _contains(expr, value, dialect)
    elif op == "starts_with":
        test = func.substr(expr, 1, len(value)) == value
    else:
        if dialect == "postgresql" and kind not in ("number", "boolean"):
            expr = expr.collate("C")  # text in code point order, as Python compares it
        test = {"gt": expr > value, "gte": expr >= value, "lt": expr < value, "lte": expr <= value}[
            op
        ]
    return _definite(and_(is_set, test))


def _has_option(column: Any, key: str, option: str, dialect: str) -> ColumnElement[bool]:
    """A multi-select value holds ``option``."""
    if dialect == "postgresql":
        wanted = literal([option], JSONB)
        return func.coalesce(column[key].op("@>", return_type=Boolean)(wanted), false())
    each = func.json_each(column, f"$.{key}").table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value == option))


def _field(
    model: Any, name: str, kind: str, op: str, value: Any, dialect: str
) -> ColumnElement[bool]:
    if not name.startswith("custom."):
        return _compare(getattr(model, name), kind, op, value, dialect)
    key = name[7:]
    expr = _json_typed(model.custom, key, _JSON_KIND[kind], dialect)
    multi = (
        _has_option(model.custom, key, value, dialect)
        if kind == "multi_select" and op == "contains"
        else None
    )
    return _compare(expr, kind, op, value, dialect, multi=multi)


def _prop(f: PropFilter, dialect: str) -> ColumnElement[bool]:
    if isinstance(f.value, str):
        expr = _json_typed(Event.properties, f.property, "text", dialect)
        if f.op == "contains":
            return _definite(and_(expr.is_not(None), _contains(expr, f.value, dialect)))
        return _compare(expr, "date", f.op, f.value, dialect)
    if f.op == "contains":
        return false()
    expr = _json_typed(Event.properties, f.property, "number", dialect)
    return _compare(expr, "number", f.op, float(f.value), dialect)


def _events(
    workspace_id: int, type: str, where: Sequence[PropFilter], dialect: str
) -> list[ColumnElement[bool]]:
    return [
        Event.workspace_id == workspace_id,
        Event.contact_id == Contact.id,
        Event.type == type,
        *(_prop(f, dialect) for f in where),
    ]


def _has_tags(workspace_id: int, tags: Sequence[str]) -> ColumnElement[bool]:
    return exists(
        select(1).where(
            ContactTag.workspace_id == workspace_id,
            ContactTag.contact_id == Contact.id,
            ContactTag.tag_id.in_([int(t) for t in tags]),
        )
    )


def _seconds(column: Any, dialect: str) -> ColumnElement[float]:
    """A timestamp as seconds since 1970."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", column), Float)
    return (func.julianday(column) - 2440587.5) * 86400.0


def _score_part(
    model: str, which: str, schema: Schema, workspace_id: int, now: datetime, dialect: str
) -> ColumnElement[float]:
    """The SQL twin of ``decay.part``."""
    spec = schema.score_models[model]
    if spec.combined:
        terms = [
            _score_part(m, which, schema, workspace_id, now, dialect) * w
            for m, w in spec.weights.items()
        ]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total

    def stored(column: Any) -> ColumnElement[float]:
        value = select(column).where(
            ContactScore.workspace_id == workspace_id,
            ContactScore.model_id == int(model),
            ContactScore.contact_id == Contact.id,
        )
        return func.coalesce(value.scalar_subquery(), 0.0)

    fit = stored(ContactScore.fit)
    if which == "fit":
        return fit
    if spec.decay == "linear":
        start = decay.window_start(spec, now)
        weight = (_seconds(ScorePoint.earned_at, dialect) - start.timestamp()) / (
            (spec.days or 1) * decay.DAY
        )
        summed = select(func.sum(ScorePoint.points * weight)).where(
            ScorePoint.workspace_id == workspace_id,
            ScorePoint.contact_id == Contact.id,
            ScorePoint.model_id == int(model),
            ScorePoint.earned_at > start,
            ScorePoint.earned_at <= now,
        )
        engagement: ColumnElement[float] = func.coalesce(summed.scalar_subquery(), 0.0)
    else:
        engagement = stored(ContactScore.engagement) * decay.factor(spec, now)
    return engagement if which == "engagement" else engagement + fit


def _grade(fit: ColumnElement[float], grades: dict[str, float]) -> ColumnElement[str]:
    steps = [(fit >= grades[g], g) for g in decay.GRADES[:3] if grades.get(g) is not None]
    return case(*steps, else_="D") if steps else literal("D")


def compile_sql(
    tree: Any, schema: Schema, workspace_id: int, now: datetime, dialect: str
) -> ColumnElement[bool]:
    """Contacts matching ``tree`` (which has passed ``conditions.check``), as a WHERE clause
    over ``Contact``; the caller adds the workspace and status filters."""

    def go(node: Any) -> ColumnElement[bool]:
        if isinstance(node, And):
            return and_(*(go(c) for c in node.all))
        if isinstance(node, Or):
            return or_(*(go(c) for c in node.any))
        if isinstance(node, Not):
            return not_(go(node.condition))
        if isinstance(node, FieldCond):
            kind = schema.contact_type(node.field) or "text"
            return _field(Contact, node.field, kind, node.op, node.value, dialect)
        if isinstance(node, AccountCond):
            kind = schema.account_type(node.field) or "text"
            held = (
                select(1)
                .select_from(ContactAccount)
                .join(
                    Account,
                    and_(
                        Account.workspace_id == ContactAccount.workspace_id,
                        Account.id == ContactAccount.account_id,
                    ),
                )
                .where(
                    ContactAccount.workspace_id == workspace_id,
                    ContactAccount.contact_id == Contact.id,
                )
            )
            test = _field(Account, node.field, kind, node.op, node.value, dialect)
            if node.quantifier == "any":
                return exists(held.where(test))
            return and_(exists(held), not_(exists(held.where(not_(test)))))
        if isinstance(node, EventCond):
            lower, upper, upper_in = node.window.bounds(now)
            conditions = _events(workspace_id, node.type, node.where, dialect)
            if lower is not None:
                conditions.append(Event.occurred_at >= lower)
            if upper is not None:
                conditions.append(
                    Event.occurred_at <= upper if upper_in else Event.occurred_at < upper
                )
            if node.measure == "count":
                measured: Any = func.count()
            else:
                number = _json_typed(Event.properties, node.property or "", "number", dialect)
                measured = func.coalesce(func.sum(number), 0)
            value = select(measured).where(*conditions).scalar_subquery()
            return _compare(cast(value, Float), "number", node.op, float(node.value), dialect)
        if isinstance(node, EventTimeCond):
            at = (
                func.min(Event.occurred_at)
                if node.which == "first"
                else func.max(Event.occurred_at)
            )
            when = (
                select(at)
                .where(*_events(workspace_id, node.type, node.where, dialect))
                .scalar_subquery()
            )
            moment = node.moment(now)
            return _definite(when < moment if node.op == "before" else when >= moment)
        if isinstance(node, TagCond):
            if node.op == "all":
                return and_(*(_has_tags(workspace_id, [t]) for t in node.tags))
            tagged = _has_tags(workspace_id, node.tags)
            return tagged if node.op == "any" else not_(tagged)
        if isinstance(node, ScoreCond):
            score = _score_part(node.model, node.part, schema, workspace_id, now, dialect)
            return _compare(score, "number", node.op, float(node.value), dialect)
        if isinstance(node, GradeCond):
            fit = _score_part(node.model, "fit", schema, workspace_id, now, dialect)
            grades = dict(schema.score_models[node.model].grades)
            return _grade(fit, grades).in_(list(node.grades))
        if isinstance(node, SegmentCond):
            member = exists(
                select(1).where(
                    SegmentMember.workspace_id == workspace_id,
                    SegmentMember.segment_id == int(node.segment),
                    SegmentMember.contact_id == Contact.id,
                )
            )
            return member if node.op == "in" else not_(member)
        raise TypeError(f"not a condition: {node!r}")

    return go(tree)
