"""Segments in words: the labels the builder offers (fields, operators, kinds) and a condition
tree told as a sentence, in the reader's language."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from guanxi.i18n import N_

Translate = Callable[[str], str]

# the operators in the order a picker shows them
OP_ORDER = (
    "eq", "ne", "in", "not_in", "contains", "starts_with", "gt", "gte", "lt", "lte",
    "is_set", "is_not_set",
)  # fmt: skip
OPS = {
    "eq": N_("is"),
    "ne": N_("is not"),
    "in": N_("is one of"),
    "not_in": N_("is none of"),
    "contains": N_("contains"),
    "starts_with": N_("starts with"),
    "gt": N_("more than"),
    "gte": N_("at least"),
    "lt": N_("less than"),
    "lte": N_("at most"),
    "is_set": N_("is filled in"),
    "is_not_set": N_("is empty"),
}
CONTACT_FIELDS = {
    "name": N_("Name"),
    "email": N_("Email"),
    "phone": N_("Phone"),
    "title": N_("Job title"),
    "city": N_("City"),
    "province": N_("Province"),
    "language": N_("Language"),
    "timezone": N_("Time zone"),
    "source": N_("Source"),
    "gender": N_("Gender"),
    "country": N_("Country"),
    "stage": N_("Lifecycle stage"),
}
ACCOUNT_FIELDS = {
    "name": N_("Company name"),
    "domain": N_("Domain"),
    "region": N_("Region"),
    "industry": N_("Industry"),
    "size": N_("Company size"),
    "tier": N_("Tier"),
    "revenue": N_("Revenue"),
}
KINDS = {
    "field": N_("Contact field"),
    "account": N_("Account field"),
    "event": N_("Did something (events)"),
    "event_time": N_("When something happened"),
    "tag": N_("Tags"),
    "score": N_("Score"),
    "grade": N_("Grade"),
    "segment": N_("Segment membership"),
}
# what the builder's controls say, beyond the operators, fields and kinds above
WORDS = {
    "and": N_("All of these (AND)"),
    "or": N_("Any of these (OR)"),
    "not": N_("Not"),
    "add_condition": N_("+ Condition"),
    "add_group": N_("+ Group"),
    "remove": N_("Remove"),
    "empty_group": N_("This group is empty: add a condition."),
    "any_account": N_("Any of the contact's accounts"),
    "all_accounts": N_("All of the contact's accounts"),
    "did": N_("did"),
    "did_not": N_("did not do"),
    "count": N_("number of times"),
    "sum": N_("sum of"),
    "property": N_("property"),
    "all_time": N_("at any time"),
    "last_days": N_("in the last … days"),
    "between": N_("between two dates"),
    "days": N_("days"),
    "from": N_("from"),
    "to": N_("to"),
    "add_filter": N_("+ Property filter"),
    "where": N_("where"),
    "first": N_("first time"),
    "last": N_("last time"),
    "before": N_("before"),
    "after": N_("after"),
    "days_ago": N_("days ago"),
    "on_date": N_("a date"),
    "tag_any": N_("holds any of"),
    "tag_all": N_("holds all of"),
    "tag_none": N_("holds none of"),
    "part_score": N_("score"),
    "part_engagement": N_("engagement"),
    "part_fit": N_("fit"),
    "in_model": N_("in model"),
    "grade_in": N_("grade is one of"),
    "seg_in": N_("is in"),
    "seg_not_in": N_("is not in"),
    "yes": N_("yes"),
    "no": N_("no"),
    "values_hint": N_("values, comma-separated"),
    "preview_failed": N_("The count could not be loaded."),
}


@dataclass(frozen=True)
class Names:
    """What a summary calls things by: fields, tags, models, segments and event types."""

    contact_fields: Mapping[str, str]
    account_fields: Mapping[str, str]
    tags: Mapping[str, str]
    models: Mapping[str, str]
    segments: Mapping[str, str]


def _value(value: Any, t: Translate) -> str:
    if isinstance(value, list):
        return ", ".join(_value(v, t) for v in value)
    if isinstance(value, bool):
        return t(N_("yes")) if value else t(N_("no"))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"“{value}”" if isinstance(value, str) else str(value)


def _day(text: str | None) -> str:
    return datetime.fromisoformat(text).strftime("%Y-%m-%d") if text else ""


def _compare(name: str, node: Mapping[str, Any], t: Translate) -> str:
    op = t(OPS[node["op"]])
    if node["op"] in ("is_set", "is_not_set"):
        return f"{name} {op}"
    return f"{name} {op} {_value(node.get('value'), t)}"


def _filters(node: Mapping[str, Any], t: Translate) -> str:
    where = node.get("where") or []
    if not where:
        return ""
    parts = "; ".join(f"{f['property']} {t(OPS[f['op']])} {_value(f['value'], t)}" for f in where)
    return " " + t(N_("where {filters}")).format(filters=parts)


def _window(window: Mapping[str, Any], t: Translate) -> str:
    if window.get("days"):
        return " " + t(N_("in the last {days} days")).format(days=window["days"])
    since, until = _day(window.get("since")), _day(window.get("until"))
    if since and until:
        return " " + t(N_("from {since} to {until}")).format(since=since, until=until)
    if since:
        return " " + t(N_("since {since}")).format(since=since)
    if until:
        return " " + t(N_("before {until}")).format(until=until)
    return ""


def _event(node: Mapping[str, Any], t: Translate) -> str:
    what = node["type"] + _filters(node, t)
    window = _window(node.get("window") or {}, t)
    value = _value(float(node["value"]), t)
    if node.get("measure", "count") == "sum":
        text = t(N_("sum of {property} over {event} {op} {value}")).format(
            property=node["property"], event=what, op=t(OPS[node["op"]]), value=value
        )
        return text + window
    if node["op"] == "eq" and float(node["value"]) == 0:
        return t(N_("did not do {event}")).format(event=what) + window
    text = t(N_("did {event} {op} {value} times")).format(
        event=what, op=t(OPS[node["op"]]), value=value
    )
    return text + window


def _event_time(node: Mapping[str, Any], t: Translate) -> str:
    if node.get("days_ago") is not None:
        moment = t(N_("{days} days ago")).format(days=node["days_ago"])
    else:
        moment = _day(node.get("at"))
    which = t(N_("first time")) if node["which"] == "first" else t(N_("last time"))
    op = t(N_("before")) if node["op"] == "before" else t(N_("after"))
    return t(N_("{which} {event} {op} {moment}")).format(
        which=which, event=node["type"] + _filters(node, t), op=op, moment=moment
    )


def describe(node: Mapping[str, Any], names: Names, t: Translate) -> str:
    """The tree as one sentence with brackets, e.g. "all of (City is “上海”; did page_view at
    least 2 times in the last 14 days)"."""
    kind = node["kind"]
    if kind in ("and", "or"):
        children = "; ".join(describe(c, names, t) for c in node["all" if kind == "and" else "any"])
        label = N_("all of ({conditions})") if kind == "and" else N_("any of ({conditions})")
        return t(label).format(conditions=children)
    if kind == "not":
        return t(N_("not ({condition})")).format(condition=describe(node["condition"], names, t))
    if kind == "field":
        return _compare(names.contact_fields.get(node["field"], node["field"]), node, t)
    if kind == "account":
        field = names.account_fields.get(node["field"], node["field"])
        label = (
            N_("every account's {field}")
            if node["quantifier"] == "all"
            else N_("an account's {field}")
        )
        return _compare(t(label).format(field=field), node, t)
    if kind == "event":
        return _event(node, t)
    if kind == "event_time":
        return _event_time(node, t)
    if kind == "tag":
        holds = {"any": N_("holds any of"), "all": N_("holds all of"), "none": N_("holds none of")}
        tags = ", ".join(names.tags.get(i, i) for i in node["tags"])
        return f"{t(holds[node['op']])} {tags}"
    if kind == "score":
        part = {"score": N_("score"), "engagement": N_("engagement"), "fit": N_("fit")}
        return t(N_("{part} in {model} {op} {value}")).format(
            part=t(part[node["part"]]),
            model=names.models.get(node["model"], node["model"]),
            op=t(OPS[node["op"]]),
            value=_value(float(node["value"]), t),
        )
    if kind == "grade":
        return t(N_("grade in {model} is one of {grades}")).format(
            model=names.models.get(node["model"], node["model"]), grades=", ".join(node["grades"])
        )
    segment = names.segments.get(node["segment"], node["segment"])
    label = N_("is in {segment}") if node["op"] == "in" else N_("is not in {segment}")
    return t(label).format(segment=segment)
