"""Create or refresh the demo workspace: departments, a member for every role, one admin login.

Running it again finds the same workspace (by its admin's email) and brings it back to the
demo state without duplicating anything; every demo login's password is reset to the one given.
Everything goes through the services, as an administrator would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from guanxi.auth import service as auth
from guanxi.auth import users
from guanxi.auth.permissions import Role
from guanxi.auth.principal import Principal
from guanxi.demo import journeys
from guanxi.demo.generators import companies, consumers, person
from guanxi.errors import NotFound
from guanxi.kit.clock import utcnow
from guanxi.kit.secrets import hash_password
from guanxi.models import User
from guanxi.workspace import members
from guanxi.workspace import service as workspaces
from guanxi.workspace.schemas import DepartmentIn, MemberIn, MemberPatch

ADMIN_EMAIL = "admin@demo.guanxi.local"
WORKSPACE_NAME = "演示公司 Demo Co."
# (department, parent) — a small org: marketing, sales with two regional teams, success.
DEPARTMENTS = [
    ("市场部 Marketing", None),
    ("销售部 Sales", None),
    ("华东团队 East", "销售部 Sales"),
    ("华北团队 North", "销售部 Sales"),
    ("客户成功 Success", None),
]
# (role, department, how many)
STAFF = [
    (Role.marketer, "市场部 Marketing", 2),
    (Role.sdr, "销售部 Sales", 2),
    (Role.sales, "华东团队 East", 3),
    (Role.sales, "华北团队 North", 2),
    (Role.cs, "客户成功 Success", 2),
    (Role.viewer, None, 1),
]


@dataclass(frozen=True)
class DemoLogin:
    workspace_id: int
    email: str
    password: str
    members: int


def _login(session: Session, email: str, name: str, password: str, language: str) -> User:
    user = users.by_email(session, email)
    if user is None:
        return users.create(session, email=email, name=name, password=password, language=language)
    user.password_hash = hash_password(password)
    return user


def load_demo(session: Session, password: str, seed: int = 2026) -> DemoLogin:
    rng = random.Random(seed)
    admin = _login(session, ADMIN_EMAIL, "管理员 Admin", password, "zh_CN")
    workspace = next(
        (w for w in members.workspaces_of(session, admin.id) if w.name == WORKSPACE_NAME), None
    )
    if workspace is None:
        workspace = workspaces.create_workspace(
            session, name=WORKSPACE_NAME, owner_id=admin.id, language="zh_CN"
        )
    actor = auth.principal_for(members.find_member(session, workspace.id, admin.id)[1])

    by_name = {d.name: d.id for d in workspaces.list_departments(session, actor)}
    for name, parent in DEPARTMENTS:
        if name not in by_name:
            data = DepartmentIn(name=name, parent_id=by_name[parent] if parent else None)
            by_name[name] = workspaces.create_department(session, actor, data).id

    count = 1
    for role, team, n in STAFF:
        team_id = by_name[team] if team else None
        suffix = f"-{team.split()[-1].lower()}" if team else ""
        for i in range(1, n + 1):
            p = person(rng, english_share=0.3)
            email = f"{role.value}{i}{suffix}@demo.guanxi.local"
            _member(
                session, actor, _login(session, email, p.name, password, p.language), role, team_id
            )
            count += 1
    _segments(session, actor)  # first: the customers' events then tag, score and segment them
    journeys.load(session, actor)  # and enrol them in journeys
    _customers(session, actor, seed)
    _marketing(session, actor)
    return DemoLogin(workspace.id, ADMIN_EMAIL, password, count)


def _marketing(session: Session, actor: Principal) -> None:
    """A form and an article with a tracked link, to try the hosted pages — once."""
    from guanxi.content import service as content
    from guanxi.content.schemas import ContentIn, LinkIn
    from guanxi.form import service as forms
    from guanxi.form.schemas import FormIn

    if forms.list_forms(session, actor):
        return
    now = utcnow()
    forms.create(
        session,
        actor,
        FormIn.model_validate(
            {
                "name": "预约演示 Book a demo",
                "language": "zh_CN",
                "fields": [
                    {"key": "name", "label": "姓名", "required": True},
                    {"key": "phone", "label": "手机", "type": "phone", "required": True},
                    {"key": "email", "label": "邮箱", "type": "email"},
                    {"key": "company", "label": "公司"},
                    {"key": "consent.email", "label": "接收产品资讯邮件", "type": "consent"},
                ],
                "settings": {"thank_you": "谢谢！顾问会在一个工作日内联系您。"},
            }
        ),
        now,
    )
    article = content.create(
        session,
        actor,
        ContentIn(
            title="2026 私域运营白皮书",
            summary="从公众号到企业微信：如何把一次扫码变成长期关系。",
            body="私域的起点是一次扫码。\n\n每个渠道码记录来源，每次打开记录兴趣。\n\n"
            "销售看到客户读了什么、读了多久，再决定何时跟进。",
        ),
        now,
    )
    content.link(session, actor, article.id, LinkIn(channel_code="demo-expo"), now)


def _segments(session: Session, actor: Principal) -> None:
    """Tags with rules, two scoring models and a combined one, an MQL entry rule, and a few
    segments — once (a refreshed demo keeps them)."""
    from guanxi.lifecycle import service as lifecycle
    from guanxi.scoring import service as scoring
    from guanxi.scoring.schemas import ModelIn, RuleIn
    from guanxi.segment import manage as segments
    from guanxi.segment.schemas import SegmentIn
    from guanxi.tag import automation
    from guanxi.tag import service as tags
    from guanxi.tag.schemas import TagGroupIn, TagIn, TagRuleIn

    if scoring.list_models(session, actor):
        return
    now = utcnow()
    intent = tags.create_group(
        session, actor, TagGroupIn(name="意向度 Intent", exclusive=True), now
    )
    for name in ("高 High", "中 Medium", "低 Low"):
        tags.create_tag(session, actor, TagIn(name=name, group_id=intent.id), now)
    expo = tags.create_tag(session, actor, TagIn(name="展会 Expo", type="fact"), now)
    pricing = tags.create_tag(
        session, actor, TagIn(name="看过价格 Viewed pricing", type="fact"), now
    )
    on_pricing = [{"property": "url", "op": "contains", "value": "/pricing"}]
    for rule in (
        {"name": "展会关注", "tag_id": expo.id, "event_type": "follow",
         "where": [{"property": "channel_code", "op": "eq", "value": "expo-a"}]},
        {"name": "价格页", "tag_id": pricing.id, "event_type": "page_view", "where": on_pricing},
    ):  # fmt: skip
        automation.create_rule(session, actor, TagRuleIn.model_validate(rule), now)
    engagement = scoring.create_model(
        session, actor, ModelIn(name="活跃度 Engagement", decay="half_life", decay_days=30), now
    )
    fit = scoring.create_model(session, actor, ModelIn(name="匹配度 Fit"), now)
    for model, rule in (
        (engagement, {"kind": "engagement", "name": "价格页", "event_type": "page_view",
                      "where": on_pricing, "points": 10, "cap": 30, "cap_days": 7}),
        (engagement, {"kind": "engagement", "name": "白皮书", "event_type": "content_view", "points": 15}),
        (engagement, {"kind": "engagement", "name": "表单", "event_type": "form_submit", "points": 25}),
        (engagement, {"kind": "engagement", "name": "打开邮件", "event_type": "email_opened", "points": 3}),
        (fit, {"kind": "fit", "name": "经理", "points": 40,
               "condition": {"kind": "field", "field": "title", "op": "contains", "value": "经理"}}),
        (fit, {"kind": "fit", "name": "高校邮箱", "points": -40,
               "condition": {"kind": "field", "field": "email", "op": "contains", "value": ".edu"}}),
    ):  # fmt: skip
        scoring.create_rule(session, actor, model.id, RuleIn.model_validate(rule), now)
    lead = scoring.create_model(
        session,
        actor,
        ModelIn(
            name="线索评分 Lead score", kind="combined", weights={engagement.id: 0.7, fit.id: 0.3}
        ),
        now,
    )
    mql = next(s for s in lifecycle.stages(session, actor.workspace_id) if s.key == "mql")
    lifecycle.update_stage(
        session,
        actor,
        mql.id,
        {"entry_rule": {"kind": "score", "model": str(lead.id), "op": "gte", "value": 30}},
    )
    hot = {"kind": "event", "type": "page_view", "where": on_pricing, "window": {"days": 30},
           "op": "gte", "value": 2}  # fmt: skip
    for name, condition in (
        ("热线索 Hot leads", hot),
        ("展会访客 Expo visitors", {"kind": "tag", "tags": [str(expo.id)]}),
        (
            "未提交表单 Never filled a form",
            {"kind": "event", "type": "form_submit", "op": "eq", "value": 0},
        ),
    ):
        segments.create(
            session, actor, SegmentIn.model_validate({"name": name, "condition": condition}), now
        )
    segments.create(session, actor, SegmentIn(name="VIP 名单", kind="static"), now)


def _customers(session: Session, actor: Principal, seed: int) -> None:
    """B2B accounts with their buying committees and B2C consumers with a few events, owned
    by the demo's sales reps — once: a refresh leaves customer data as it is."""
    from guanxi.account import service as accounts
    from guanxi.account.schemas import AccountIn, LinkIn
    from guanxi.contact import service as contacts
    from guanxi.contact.schemas import ContactFields, IdentityIn
    from guanxi.event import service as events
    from guanxi.event.schemas import EventIn
    from guanxi.identity import service as resolution

    if contacts.list_contacts(
        session,
        actor,
        q=None,
        owner_id=None,
        stage=None,
        source=None,
        account_id=None,
        status="active",
        custom={},
        sort=None,
        limit=1,
        cursor=None,
    )[0]:
        return
    now = utcnow()
    reps = [
        m.User.id
        for m in members.list_members(
            session,
            actor,
            role=Role.sales,
            department_id=None,
            status=None,
            q=None,
            sort="name",
            limit=50,
            cursor=None,
        )[0]
    ]
    rng = random.Random(seed)
    for company in companies(seed, 24):
        owner = rng.choice(reps) if reps else None
        account = accounts.create(
            session,
            actor,
            AccountIn(
                name=company.name,
                domain=company.domain,
                industry=company.industry,
                size=company.size,
                tier=company.tier,
                region=company.region,
                owner_id=owner,
            ),
            now,
        )
        ids: list[int] = []
        for member in company.committee:
            p = member.person
            fields = ContactFields(
                name=p.name,
                email=p.email,
                phone=p.phone,
                title=member.title,
                city=p.city,
                province=p.province,
                country="CN",
                source=rng.choice(SOURCES),
                stage=rng.choice(("lead", "mql", "sql")),
                owner_id=owner,
            )
            contact = resolution.create_contact(session, actor, fields, [], now)
            boss = ids[member.reports_to] if member.reports_to is not None else None
            accounts.link(
                session,
                actor,
                account.id,
                contact.id,
                LinkIn(role=member.role, title=member.title, reports_to_id=boss),
                now,
            )
            ids.append(contact.id)
    for i, p in enumerate(consumers(seed + 1, 160)):
        fields = ContactFields(
            name=p.name,
            email=p.email,
            phone=p.phone,
            city=p.city,
            province=p.province,
            country="CN",
            source=rng.choice(SOURCES),
            stage="subscriber",
        )
        identities = (
            [IdentityIn(kind="wechat_unionid", value=f"o6_demo{seed}{i:05d}")] if i % 2 else []
        )
        contact = resolution.create_contact(session, actor, fields, identities, now)
        history = [
            EventIn(
                type=(kind := rng.choice(list(EVENTS))),
                properties=EVENTS[kind],
                channel=rng.choice(("web", "wechat", "email")),
                occurred_at=now - timedelta(days=rng.randrange(1, 90), minutes=rng.randrange(1440)),
            )
            for _ in range(rng.randrange(1, 6))
        ]
        events.record(session, actor.workspace_id, contact.id, history, source="demo", now=now)


SOURCES = ("Expo-A 展会", "官网表单", "公众号", "企业微信", "线下沙龙")
EVENTS: dict[str, dict[str, Any]] = {
    "page_view": {"url": "https://www.example.cn/pricing", "title": "价格 Pricing"},
    "content_view": {"content_id": "whitepaper-2026", "dwell_s": 95, "completion": 0.8},
    "follow": {"channel_code": "expo-a"},
    "form_submit": {"form_id": "demo-request", "utm_source": "baidu", "utm_medium": "cpc"},
    "email_opened": {"message_id": "demo"},
}


def _member(
    session: Session, actor: Principal, user: User, role: Role, team_id: int | None
) -> None:
    """Make ``user`` an active member with ``role`` in ``team_id``, whatever it was before."""
    try:
        members.find_member(session, actor.workspace_id, user.id)
    except NotFound:
        data = MemberIn(email=user.email, name=user.name, role=role, department_id=team_id)
        members.add_member(session, actor, data)
        members.answer_invitation(session, user.id, actor.workspace_id, accept=True)
    patch = MemberPatch(role=role, department_id=team_id, is_active=True)
    members.update_member(session, actor, user.id, patch)
