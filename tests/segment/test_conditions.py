"""The condition language: the in-memory evaluator and the SQL one agree on random trees over
random contacts, accounts, events, tags, scores (decaying three ways, and combined) and segment
memberships, on SQLite and on PostgreSQL (hypothesis); and trees that name unknown fields or
compare a field the wrong way are refused."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from guanxi.errors import InvalidValue
from guanxi.event import partitions
from guanxi.kit.ids import new_id
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
from guanxi.scoring.decay import ScoreFact, ScoreSpec, anchor
from guanxi.segment import conditions as c
from guanxi.segment.sql import compile_sql
from tests.factories import make_tenant
from tests.segment.test_preview import PRICING_TWICE

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SCHEMA = c.Schema(
    contact_custom={
        "budget": "number",
        "vip": "boolean",
        "topics": "multi_select",
        "joined": "date",
        "tier": "select",
        "note": "text",
    },
    account_custom={"headcount": "number"},
    score_models={
        "101": ScoreSpec(decay="half_life", days=30, grades={"A": 30, "B": 10, "C": 0}),
        "102": ScoreSpec(decay="linear", days=14),
        "103": ScoreSpec(),
        "104": ScoreSpec(weights={"101": 0.6, "102": 0.4, "103": 1.0}),
    },
)
POINTS_MODELS = ["101", "102", "103"]
TAGS = ["1", "2", "3"]
SEGMENTS = ["11", "12"]
EXAMPLES = 250  # per dialect; each compares the two evaluators over every contact

# Small pools, so that random conditions and random data meet often.
CITIES = ["上海", "北京", "Shanghai", "shanghai", "深圳", ""]
NAMES = ["李雷", "韩梅梅", "Li Lei", "Lily", "李", None]
TOPICS = ["AI", "IoT", "SaaS"]
DATES = ["2025-01-01", "2025-06-30", "2026-01-15"]
TIERS = ["gold", "silver"]
INDUSTRIES = ["制造", "零售", "金融", None]
TYPES = ["page_view", "order", "form_submit"]
URLS = ["/pricing", "/pricing/pro", "/blog", "/定价"]


def _seed(tenant: Any, rng: random.Random) -> None:
    partitions.ensure(tenant.app.state.engine, [NOW - timedelta(days=40), NOW])
    with tenant.session() as s:
        accounts = []
        for i in range(6):
            account = Account(
                workspace_id=tenant.workspace_id,
                name=f"Co {i}",
                name_key=f"co {i}",
                industry=rng.choice(INDUSTRIES),
                revenue=rng.choice([None, 100.0, 2500.5, 1e6]),
                custom={"headcount": rng.choice([10, 200, 5000])} if rng.random() < 0.7 else {},
                created_at=NOW,
                updated_at=NOW,
            )
            s.add(account)
            accounts.append(account)
        s.flush()
        for _ in range(40):
            custom: dict[str, Any] = {}
            if rng.random() < 0.6:
                custom["budget"] = rng.choice([0, 5000, 12000.5, -3])
            if rng.random() < 0.5:
                custom["vip"] = rng.random() < 0.5
            if rng.random() < 0.6:
                custom["topics"] = rng.sample(TOPICS, rng.randrange(0, 3))
            if rng.random() < 0.5:
                custom["joined"] = rng.choice(DATES)
            if rng.random() < 0.5:
                custom["tier"] = rng.choice(TIERS)
            if rng.random() < 0.5:
                custom["note"] = rng.choice(["call back", "VIP 客户", ""])
            contact = Contact(
                workspace_id=tenant.workspace_id,
                name=rng.choice(NAMES),
                city=rng.choice(CITIES) or None,
                gender=rng.choice([None, "male", "female"]),
                stage=rng.choice([None, "lead", "mql"]),
                custom=custom,
                status="active",
                created_at=NOW,
                updated_at=NOW,
            )
            s.add(contact)
            s.flush()
            for account in rng.sample(accounts, rng.randrange(0, 3)):
                s.add(
                    ContactAccount(
                        workspace_id=tenant.workspace_id,
                        contact_id=contact.id,
                        account_id=account.id,
                        created_at=NOW,
                    )
                )
            for tag in rng.sample(TAGS, rng.randrange(0, 3)):
                s.add(
                    ContactTag(
                        workspace_id=tenant.workspace_id,
                        contact_id=contact.id,
                        tag_id=int(tag),
                        source="manual",
                        added_at=NOW,
                    )
                )
            for segment in rng.sample(SEGMENTS, rng.randrange(0, 3)):
                s.add(
                    SegmentMember(
                        workspace_id=tenant.workspace_id,
                        segment_id=int(segment),
                        contact_id=contact.id,
                        since=NOW,
                    )
                )
            _seed_scores(s, tenant.workspace_id, contact.id, rng)
            for _ in range(rng.randrange(0, 6)):
                kind = rng.choice(TYPES)
                props: dict[str, Any] = {"url": rng.choice(URLS)}
                if kind == "order":
                    props["amount"] = rng.choice([10, 99.5, 1000, "n/a"])
                s.add(
                    Event(
                        workspace_id=tenant.workspace_id,
                        id=new_id(),
                        contact_id=contact.id,
                        origin_contact_id=contact.id,
                        type=kind,
                        occurred_at=NOW - timedelta(days=rng.choice([0, 1, 6, 7, 13, 14, 15, 40])),
                        received_at=NOW,
                        properties=props,
                    )
                )
        s.commit()


def _seed_scores(s: Any, ws: int, contact_id: int, rng: random.Random) -> None:
    for model in POINTS_MODELS:
        if rng.random() < 0.3:
            continue  # never scored by this model: 0 of everything
        spec = SCHEMA.score_models[model]
        engagement = 0.0
        for _ in range(rng.randrange(0, 4)):
            points = rng.choice([5, 10, -5, 20])
            earned = NOW - timedelta(days=rng.choice([0, 1, 6, 13, 14, 20, 60]), hours=3)
            s.add(
                ScorePoint(
                    workspace_id=ws,
                    model_id=int(model),
                    rule_id=1,
                    contact_id=contact_id,
                    points=points,
                    earned_at=earned,
                )
            )
            engagement += anchor(spec, points, earned)
        s.add(
            ContactScore(
                workspace_id=ws,
                model_id=int(model),
                contact_id=contact_id,
                engagement=engagement,
                fit=rng.choice([0.0, 10.0, 35.0, -10.0]),
                updated_at=NOW,
            )
        )


def _profiles(tenant: Any) -> dict[int, c.Profile]:
    with tenant.session() as s:
        ws = tenant.workspace_id
        contacts = s.scalars(select(Contact).where(Contact.workspace_id == ws)).all()
        links = s.execute(
            select(ContactAccount.contact_id, Account)
            .join(Account, Account.id == ContactAccount.account_id)
            .where(ContactAccount.workspace_id == ws)
        ).all()
        events = s.scalars(select(Event).where(Event.workspace_id == ws)).all()
        tags = s.scalars(select(ContactTag).where(ContactTag.workspace_id == ws)).all()
        members = s.scalars(select(SegmentMember).where(SegmentMember.workspace_id == ws)).all()
        scores = s.scalars(select(ContactScore).where(ContactScore.workspace_id == ws)).all()
        points = s.scalars(select(ScorePoint).where(ScorePoint.workspace_id == ws)).all()
        profiles = {}
        for contact in contacts:
            fields = {name: getattr(contact, name) for name in c.CONTACT_FIELDS}
            fields["custom"] = contact.custom
            accounts = [
                {**{n: getattr(a, n) for n in c.ACCOUNT_FIELDS}, "custom": a.custom}
                for cid, a in links
                if cid == contact.id
            ]
            facts = [
                c.EventFact(e.type, e.occurred_at, e.properties)
                for e in events
                if e.contact_id == contact.id
            ]
            facts_of = {
                str(row.model_id): ScoreFact(
                    row.engagement,
                    row.fit,
                    tuple(
                        (p.earned_at, p.points)
                        for p in points
                        if p.contact_id == contact.id and p.model_id == row.model_id
                    ),
                )
                for row in scores
                if row.contact_id == contact.id
            }
            profiles[contact.id] = c.Profile(
                fields,
                accounts,
                facts,
                tags=frozenset(str(t.tag_id) for t in tags if t.contact_id == contact.id),
                scores=facts_of,
                segments=frozenset(
                    str(m.segment_id) for m in members if m.contact_id == contact.id
                ),
            )
        return profiles


# -- random trees ----------------------------------------------------------------------------

TEXT_OPS = ["eq", "ne", "in", "not_in", "contains", "starts_with", "is_set", "is_not_set"]
NUMBER_OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "is_set", "is_not_set"]


def _value(kind: str, op: str, pool: list[Any]) -> st.SearchStrategy[Any]:
    if op in ("is_set", "is_not_set"):
        return st.none()
    if op in ("in", "not_in"):
        return st.lists(st.sampled_from(pool), min_size=1, max_size=3)
    return st.sampled_from(pool)


@st.composite
def leaf_field(draw: st.DrawFn) -> c.FieldCond:
    name, kind, pool = draw(
        st.sampled_from(
            [
                ("city", "text", [x for x in CITIES if x] + ["海", "Sh"]),
                ("name", "text", [x for x in NAMES if x] + ["李", "L"]),
                ("gender", "select", ["male", "female"]),
                ("stage", "select", ["lead", "mql"]),
                ("custom.budget", "number", [0, 5000, 12000.5, -3, 100]),
                ("custom.vip", "boolean", [True, False]),
                ("custom.topics", "multi_select", TOPICS),
                ("custom.joined", "date", [*DATES, "2025-12-31"]),
                ("custom.tier", "select", TIERS),
                ("custom.note", "text", ["call", "VIP", "客户"]),
            ]
        )
    )
    op = draw(st.sampled_from(sorted(c.OPS[kind])))
    return c.FieldCond(field=name, op=op, value=draw(_value(kind, op, pool)))


@st.composite
def leaf_account(draw: st.DrawFn) -> c.AccountCond:
    name, kind, pool = draw(
        st.sampled_from(
            [
                ("industry", "select", ["制造", "零售", "金融"]),
                ("revenue", "number", [100.0, 2500.5, 1e6, 0]),
                ("custom.headcount", "number", [10, 200, 5000]),
            ]
        )
    )
    op = draw(st.sampled_from(sorted(c.OPS[kind])))
    return c.AccountCond(
        field=name,
        op=op,
        value=draw(_value(kind, op, pool)),
        quantifier=draw(st.sampled_from(["any", "all"])),
    )


@st.composite
def prop_filter(draw: st.DrawFn) -> c.PropFilter:
    if draw(st.booleans()):
        return c.PropFilter(
            property="url",
            op=draw(st.sampled_from(["eq", "ne", "contains", "gt", "lt"])),
            value=draw(st.sampled_from([*URLS, "/pricing/", "定"])),
        )
    return c.PropFilter(
        property="amount",
        op=draw(st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"])),
        value=draw(st.sampled_from([10, 99.5, 1000, 50])),
    )


@st.composite
def window(draw: st.DrawFn) -> c.Window:
    pick = draw(st.sampled_from(["all", "days", "range"]))
    if pick == "days":
        return c.Window(days=draw(st.sampled_from([1, 7, 14, 30])))
    if pick == "range":
        return c.Window(since=NOW - timedelta(days=14), until=NOW - timedelta(days=1))
    return c.Window()


@st.composite
def leaf_event(draw: st.DrawFn) -> c.EventCond:
    summing = draw(st.booleans())
    return c.EventCond(
        type=draw(st.sampled_from(TYPES)),
        where=tuple(draw(st.lists(prop_filter(), max_size=2))),
        window=draw(window()),
        measure="sum" if summing else "count",
        property="amount" if summing else None,
        op=draw(st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"])),
        value=draw(st.sampled_from([0, 1, 2, 99.5, 1010])),
    )


@st.composite
def leaf_event_time(draw: st.DrawFn) -> c.EventTimeCond:
    absolute = draw(st.booleans())
    return c.EventTimeCond(
        type=draw(st.sampled_from(TYPES)),
        where=tuple(draw(st.lists(prop_filter(), max_size=1))),
        which=draw(st.sampled_from(["first", "last"])),
        op=draw(st.sampled_from(["before", "after"])),
        days_ago=None if absolute else draw(st.sampled_from([0, 7, 14])),
        at=NOW - timedelta(days=6, hours=12) if absolute else None,
    )


@st.composite
def leaf_profile(draw: st.DrawFn) -> Any:
    pick = draw(st.sampled_from(["tag", "score", "grade", "segment"]))
    if pick == "tag":
        return c.TagCond(
            op=draw(st.sampled_from(["any", "all", "none"])),
            tags=tuple(draw(st.lists(st.sampled_from(TAGS), min_size=1, max_size=2))),
        )
    if pick == "segment":
        return c.SegmentCond(
            segment=draw(st.sampled_from(SEGMENTS)), op=draw(st.sampled_from(["in", "not_in"]))
        )
    model = draw(st.sampled_from(sorted(SCHEMA.score_models)))
    if pick == "grade":
        return c.GradeCond(
            model=model,
            grades=tuple(
                draw(st.lists(st.sampled_from("ABCD"), min_size=1, max_size=2, unique=True))
            ),
        )
    return c.ScoreCond(
        model=model,
        part=draw(st.sampled_from(["score", "engagement", "fit"])),
        op=draw(st.sampled_from(["gt", "gte", "lt", "lte", "ne"])),
        value=draw(st.sampled_from([0, 7.5, 12.25, 33.3, -2.5])),
    )


LEAVES = st.one_of(leaf_field(), leaf_account(), leaf_event(), leaf_event_time(), leaf_profile())
TREES = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.builds(lambda xs: c.And(all=tuple(xs)), st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda xs: c.Or(any=tuple(xs)), st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda x: c.Not(condition=x), children),
    ),
    max_leaves=8,
)


def test_both_evaluators_agree_on_random_trees(app: FastAPI, dialect: str) -> None:
    tenant = make_tenant(app)
    _seed(tenant, random.Random(20261120))
    profiles = _profiles(tenant)
    hits = {"some": 0, "none": 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )
    @given(tree=TREES)
    def agree(tree: Any) -> None:
        c.check(tree, SCHEMA)
        expected = {cid for cid, p in profiles.items() if c.evaluate(tree, p, SCHEMA, NOW)}
        with tenant.session() as s:
            where = compile_sql(tree, SCHEMA, tenant.workspace_id, NOW, dialect)
            got = set(
                s.scalars(
                    select(Contact.id).where(Contact.workspace_id == tenant.workspace_id, where)
                )
            )
        assert got == expected, tree.model_dump()
        hits["some" if expected else "none"] += 1

    agree()
    assert hits["some"] > EXAMPLES // 4  # the trees and the data meet: the test means something


@pytest.mark.parametrize(
    ("tree", "reason"),
    [
        (c.FieldCond(field="shoe_size", op="eq", value="42"), "unknown field"),
        (c.FieldCond(field="custom.nope", op="eq", value="x"), "unknown field"),
        (c.FieldCond(field="city", op="gt", value="x"), "cannot be compared"),
        (c.FieldCond(field="custom.budget", op="eq", value="many"), "is a number"),
        (c.FieldCond(field="custom.vip", op="eq", value="yes"), "true or false"),
        (c.FieldCond(field="city", op="in", value="上海"), "list"),
        (c.AccountCond(field="revenue", op="contains", value="1"), "cannot be compared"),
        (c.Not(condition=c.And(all=(c.FieldCond(field="x", op="is_set"),))), "unknown field"),
    ],
)
def test_bad_trees_are_refused(tree: Any, reason: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        c.check(tree, SCHEMA)
    assert reason in str(refused.value)


def test_a_tree_reads_from_json_as_the_api_sends_it() -> None:
    from pydantic import TypeAdapter

    not_ordered = {"kind": "not", "condition": {"kind": "event", "type": "order"}}
    tree = TypeAdapter(c.Condition).validate_python(
        {"kind": "and", "all": [*PRICING_TWICE["all"], not_ordered]}
    )
    assert isinstance(tree, c.And)
    c.check(tree, SCHEMA)
    profile = c.Profile(
        {"city": "上海", "custom": {}},
        events=[
            c.EventFact("page_view", NOW - timedelta(days=1), {"url": "/pricing"}),
            c.EventFact("page_view", NOW - timedelta(days=13), {"url": "/pricing/pro"}),
        ],
    )
    assert c.evaluate(tree, profile, SCHEMA, NOW)
    later = NOW + timedelta(days=2)  # one visit leaves the 14-day window
    assert not c.evaluate(tree, profile, SCHEMA, later)
