"""Scenario 5 of DOMAIN.md on both databases, on a simulated clock, against a real SMTP server
(aiosmtpd) for email and the sandbox for WeCom and SMS:

whitepaper download → email at once → wait 3 days → opened? WeCom message from the owner : SMS
→ wait until Tuesday 10:00 → case study email; goal: SQL leaves the journey.

The emails arrive with working open and click tracking and a one-click unsubscribe; the contact
who unsubscribed gets no more email (but still SMS); quiet hours defer, in the contact's own
timezone; the 2-a-week cap skips the third marketing message with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from guanxi.auth.permissions import Role
from guanxi.channels.sandbox.connector import mailbox
from guanxi.kit.clock import utcnow
from tests.factories import Tenant, make_tenant
from tests.journey.test_runner import edge, enrolments, journey, node
from tests.mail_sink import MailSink, html_of
from tests.message.support import contact, dispatch, run_journeys, sandbox, send, smtp, template

SHANGHAI = ZoneInfo("Asia/Shanghai")
NIGHT_OWL_ZONE = "Etc/GMT+5"  # UTC−5: Monday 12:00 in Shanghai is Sunday 23:00 there


@pytest.fixture
def sink() -> Iterator[MailSink]:
    with MailSink() as server:
        yield server


def next_monday_noon() -> datetime:
    """The first Monday 12:00 in Shanghai at least an hour from now: the scenario's day 0."""
    day = utcnow().astimezone(SHANGHAI) + timedelta(hours=1)
    while True:
        moment = datetime(day.year, day.month, day.day, 12, tzinfo=SHANGHAI)
        if moment.weekday() == 0 and moment > utcnow() + timedelta(hours=1):
            return moment.astimezone(UTC)
        day += timedelta(days=1)


def nurture(tenant: Tenant) -> str:
    whitepaper = template(
        tenant,
        "email",
        "白皮书",
        subject="{{ contact.name | default('您好') }}，您的白皮书",
        html=(
            "<html><head><style>p { color: #333 }</style></head><body>"
            "<p>{{ contact.name }}，感谢下载。</p>"
            '<p><a href="https://example.com/whitepaper.pdf">下载白皮书</a></p>'
            '<p><a href="{{ unsubscribe_url }}">退订</a></p></body></html>'
        ),
    )
    case = template(
        tenant,
        "email",
        "案例",
        subject="客户案例：{{ account.name | default('同行') }}如何提升转化",
        html='<html><body><p>案例</p><a href="https://example.com/case">阅读</a></body></html>',
    )
    wecom = template(tenant, "wecom", "企微跟进", text="{{ sender.name }}：{{ contact.name }}您好")
    sms = template(tenant, "sms", "短信跟进", text="【关系】{{ contact.name }}，白皮书已发送")
    graph = {
        "nodes": [
            node(
                "start",
                "entry",
                trigger={
                    "type": "event",
                    "event_type": "form_submit",
                    "filters": [{"property": "form_name", "op": "eq", "value": "白皮书下载"}],
                },
            ),
            node("email1", "send", channel="email", template_id=int(whitepaper)),
            node("wait3", "wait", mode="duration", seconds=3 * 86400),
            node(
                "opened",
                "branch",
                condition={
                    "kind": "event",
                    "type": "email_opened",
                    "where": [{"property": "journey_node", "op": "eq", "value": "email1"}],
                    "window": {"days": 14},
                },
            ),
            node("wecom", "send", channel="wecom", template_id=int(wecom), sender="owner"),
            node("sms", "send", channel="sms", template_id=int(sms)),
            node("tuesday", "wait", mode="until", weekdays=[2], time="10:00"),
            node("case", "send", channel="email", template_id=int(case)),
            node(
                "sql",
                "goal",
                condition={"kind": "field", "field": "stage", "op": "eq", "value": "sql"},
            ),
        ],
        "edges": [
            edge("start", "email1"),
            edge("email1", "wait3"),
            edge("wait3", "opened"),
            edge("opened", "wecom", "yes"),
            edge("opened", "sms", "no"),
            edge("wecom", "tuesday"),
            edge("sms", "tuesday"),
            edge("tuesday", "case"),
        ],
    }
    return journey(tenant, graph)


def path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def links(message: EmailMessage) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]+)"', html_of(message))


def test_scenario_5_nurture_journey(app: FastAPI, sink: MailSink) -> None:
    tenant = make_tenant(app)
    ws = tenant.workspace_id
    owner = tenant.add(Role.sales, name="销售小王")
    smtp(tenant, sink.port)
    sandbox(tenant, "wecom", f"s5-wecom-{ws}")
    sandbox(tenant, "sms", f"s5-sms-{ws}")
    tenant.call(
        "PUT",
        "/sending-policy",
        json={
            "quiet_start": "21:00",
            "quiet_end": "08:00",
            "caps": [{"channel": "all", "count": 2, "days": 7}],
        },
    )
    jid = nurture(tenant)
    people: dict[str, str] = {}
    for key, name, extra in (
        (
            "opener",
            "阿明",
            {
                "identities": [
                    {"kind": "wecom_external_userid", "namespace": "ww1", "value": "wm-amin"}
                ]
            },
        ),
        ("quiet", "贝贝", {"phone": "13800000002"}),
        ("leaver", "晨晨", {"phone": "13800000003"}),
        ("sql", "丁丁", {}),
        ("owl", "夜猫", {"phone": "13800000005", "timezone": NIGHT_OWL_ZONE}),
        ("busy", "方方", {"phone": "13800000006"}),
    ):
        fields: dict[str, Any] = {"timezone": "Asia/Shanghai", **extra}
        people[key] = contact(
            tenant, name=name, email=f"{key}@kehu.cn", owner_id=str(owner.user_id), **fields
        )
    tenant.call(
        "POST",
        "/events/batch",
        json={
            "events": [
                {
                    "type": "form_submit",
                    "contact_id": c,
                    "properties": {"form_id": "7", "form_name": "白皮书下载"},
                }
                for c in people.values()
            ]
        },
    )
    assert len(enrolments(tenant, jid)) == 6

    day0 = next_monday_noon()

    def at(moment: datetime) -> None:
        run_journeys(app, moment)
        dispatch(app, moment)

    at(day0)
    first = {who: sink.to(f"{who}@kehu.cn") for who in people}
    assert {who for who, got in first.items() if got} == {
        "opener",
        "quiet",
        "leaver",
        "sql",
        "busy",
    }
    owl_mail = tenant.call("GET", f"/messages?contact_id={people['owl']}")["items"][0]
    assert (owl_mail["status"], owl_mail["reason"]) == ("queued", "quiet_hours")
    wakes = datetime.fromisoformat(owl_mail["due_at"])
    assert wakes.astimezone(ZoneInfo(NIGHT_OWL_ZONE)).hour == 8  # 08:00 where they live

    mail = first["opener"][0]
    assert mail["Subject"] == "阿明，您的白皮书"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    client = TestClient(app)
    pixel = [u for u in links(mail) if "/e/o/" in u]
    tracked = [u for u in links(mail) if "/e/c/" in u]
    assert len(pixel) == 1
    assert len(tracked) == 1
    assert client.get(path(pixel[0])).status_code == 200
    click = client.get(path(tracked[0]), follow_redirects=False)
    assert (click.status_code, click.headers["location"]) == (
        302,
        "https://example.com/whitepaper.pdf",
    )
    opener_events = [
        e["type"] for e in tenant.call("GET", f"/contacts/{people['opener']}/timeline")["items"]
    ]
    assert {"email_sent", "email_opened", "email_clicked"} <= set(opener_events)

    leaver_mail = first["leaver"][0]
    one_click = leaver_mail["List-Unsubscribe"].strip("<>")
    r = client.post(
        path(one_click),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200
    consent = tenant.call("GET", f"/contacts/{people['leaver']}")["consent"]
    assert [(c["channel"], c["status"]) for c in consent] == [("email", "opt_out")]

    tenant.call("PATCH", f"/contacts/{people['sql']}", json={"stage": "sql"})
    extra_sms = template(tenant, "sms", "活动通知")
    send(tenant, people["busy"], extra_sms, marketing=True)  # the busy one's 2nd this week

    at(day0 + timedelta(hours=9))  # the night owl's morning
    assert len(sink.to("owl@kehu.cn")) == 1
    at(day0 + timedelta(days=1))
    [gone] = [e for e in enrolments(tenant, jid) if e["contact_id"] == people["sql"]]
    assert (gone["status"], gone["exit_reason"]) == ("done", "goal")

    at(day0 + timedelta(days=3, seconds=1))
    at(day0 + timedelta(days=3, hours=9, seconds=1))
    wecom_sent = mailbox(f"s5-wecom-{ws}").sent
    assert [(m.to, m.text) for m in wecom_sent] == [("wm-amin", "销售小王：阿明您好")]
    sms_to = sorted(m.to for m in mailbox(f"s5-sms-{ws}").sent)
    assert sms_to == ["+8613800000002", "+8613800000003", "+8613800000005", "+8613800000006"]
    # the busy one's journey SMS would be their third marketing message in 7 days
    busy = tenant.call("GET", f"/messages?contact_id={people['busy']}&journey_id={jid}")["items"]
    assert [(m["node_id"], m["status"], m["reason"]) for m in busy if m["node_id"] == "sms"] == [
        ("sms", "skipped", "frequency_cap")
    ]

    tuesday = day0 + timedelta(days=7, hours=22)  # Tuesday 10:00 in Shanghai
    at(tuesday - timedelta(minutes=1))
    assert not any(m["Subject"].startswith("客户案例") for _, m in sink.received)
    at(tuesday)
    at(day0 + timedelta(days=8, hours=11))  # Tuesday 10:00 for the night owl
    at(day0 + timedelta(days=9))
    case_to = sorted(r[0] for r, m in sink.received if m["Subject"].startswith("客户案例"))
    assert case_to == ["busy@kehu.cn", "opener@kehu.cn", "owl@kehu.cn", "quiet@kehu.cn"]
    leaver = tenant.call("GET", f"/messages?contact_id={people['leaver']}&journey_id={jid}")[
        "items"
    ]
    assert [(m["node_id"], m["status"], m["reason"]) for m in leaver if m["node_id"] == "case"] == [
        ("case", "skipped", "opted_out")
    ]
    assert len(sink.to("sql@kehu.cn")) == 1  # the goal took them out before anything else

    stats = tenant.call("GET", f"/journeys/{jid}/stats")
    by_node = {n["node"]: n for n in stats["nodes"]}
    assert (stats["enrolled"], stats["converted"]) == (6, 1)
    assert by_node["email1"]["messages"]["sent"] == 6
    assert by_node["email1"]["messages"]["opened"] == 1
    assert by_node["sms"]["skipped"] == {"frequency_cap": 1}
    assert by_node["case"]["skipped"] == {"opted_out": 1}
    assert {e["status"] for e in enrolments(tenant, jid)} == {"done"}
