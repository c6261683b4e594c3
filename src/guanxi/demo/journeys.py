"""The demo's messaging: channel accounts on the sandbox (nothing leaves the machine: the message
log shows what was sent), templates, a sending policy with quiet hours and a weekly cap, and
two published journeys — scenario 5's whitepaper nurture and an MQL hand-over — set up before
the customers, so that their whitepaper reads and stage changes enrol them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.config import get_settings
from guanxi.journey import service as journeys
from guanxi.kit.clock import utcnow
from guanxi.message import accounts, service, templates

WHITEPAPER_HTML = """<html><head><style>
body { font-family: sans-serif; color: #222 } a.button { background: #c0392b; color: #fff;
padding: 8px 16px; text-decoration: none; border-radius: 4px }
</style></head><body>
<p>{{ contact.name | default("您好") }}，</p>
<p>感谢您下载《2026 私域运营白皮书》。{{ account.name | default("贵公司") }}的同行最关心的三件事：
渠道码归因、线索评分、旅程自动化，都在第二章。</p>
<p><a class="button" href="https://www.example.cn/whitepaper-2026.pdf">下载白皮书 PDF</a></p>
<p>{{ sender.name | default("关系团队") }}</p>
<p style="font-size:12px;color:#888"><a href="{{ preferences_url }}">订阅偏好</a> ·
<a href="{{ unsubscribe_url }}">退订</a></p>
</body></html>"""

CASE_HTML = """<html><body>
<p>{{ contact.name | default("您好") }}，</p>
<p>一家制造企业如何用旅程把 MQL 转化率提升 38%：<a href="https://www.example.cn/cases/mfg">阅读案例</a></p>
<p style="font-size:12px;color:#888"><a href="{{ unsubscribe_url }}">退订</a></p>
</body></html>"""


def _send(node_id: str, channel: str, template_id: int, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "kind": "send", "channel": channel, "template_id": template_id, **extra}


def load(session: Session, actor: Principal) -> None:
    """Once: a refresh leaves the workspace's messaging as it is."""
    if journeys.listed(session, actor):
        return
    now, secret = utcnow(), get_settings().secret_key
    for channel, name in (
        ("email", "演示邮件 Demo email"),
        ("sms", "演示短信 Demo SMS"),
        ("wecom", "演示企微 Demo WeCom"),
    ):
        accounts.save(
            session,
            actor,
            secret,
            now,
            row=None,
            channel=channel,
            kind="sandbox",
            name=name,
            config={"mailbox": "demo"},
            is_default=True,
            rate_per_s=None,
            enabled=True,
        )
    service.set_policy(
        session,
        actor,
        {
            "quiet_start": "21:00",
            "quiet_end": "08:00",
            "caps": [{"channel": "all", "count": 2, "days": 7}],
            "opt_in_channels": [],
        },
        now,
    )

    def template(channel: str, name: str, **parts: Any) -> int:
        return templates.save(session, actor, {"channel": channel, "name": name, **parts}, now).id

    whitepaper = template(
        "email",
        "白皮书 Whitepaper",
        subject="{{ contact.name | default('您好') }}，您的白皮书",
        html=WHITEPAPER_HTML,
    )
    case = template(
        "email", "客户案例 Case study", subject="制造业客户如何提升 38% 转化", html=CASE_HTML
    )
    wecom = template(
        "wecom",
        "企微跟进 WeCom follow-up",
        text="{{ contact.name }}您好，我是{{ sender.name }}，白皮书有任何问题随时问我。",
    )
    sms = template(
        "sms",
        "短信提醒 SMS reminder",
        text="【关系】{{ contact.name }}，您的白皮书已发送至邮箱，退订回T",
    )
    nurture = {
        "nodes": [
            {
                "id": "start",
                "kind": "entry",
                "label": "下载白皮书",
                "trigger": {
                    "type": "event",
                    "event_type": "content_view",
                    "filters": [{"property": "content_id", "op": "eq", "value": "whitepaper-2026"}],
                },
                "x": 40,
                "y": 160,
            },
            {**_send("email1", "email", whitepaper), "x": 240, "y": 160},
            {
                "id": "wait3",
                "kind": "wait",
                "mode": "duration",
                "seconds": 3 * 86400,
                "x": 440,
                "y": 160,
            },
            {
                "id": "opened",
                "kind": "branch",
                "label": "打开了邮件？",
                "condition": {
                    "kind": "event",
                    "type": "email_opened",
                    "where": [{"property": "journey_node", "op": "eq", "value": "email1"}],
                    "window": {"days": 14},
                },
                "x": 640,
                "y": 160,
            },
            {**_send("wecom", "wecom", wecom, sender="owner"), "x": 840, "y": 80},
            {**_send("sms", "sms", sms), "x": 840, "y": 240},
            {
                "id": "tuesday",
                "kind": "wait",
                "mode": "until",
                "weekdays": [2],
                "time": "10:00",
                "x": 1040,
                "y": 160,
            },
            {**_send("case", "email", case), "x": 1240, "y": 160},
            {
                "id": "sql",
                "kind": "goal",
                "label": "成为 SQL",
                "condition": {"kind": "field", "field": "stage", "op": "eq", "value": "sql"},
                "x": 1240,
                "y": 320,
            },
        ],
        "edges": [
            {"source": "start", "target": "email1"},
            {"source": "email1", "target": "wait3"},
            {"source": "wait3", "target": "opened"},
            {"source": "opened", "target": "wecom", "port": "yes"},
            {"source": "opened", "target": "sms", "port": "no"},
            {"source": "wecom", "target": "tuesday"},
            {"source": "sms", "target": "tuesday"},
            {"source": "tuesday", "target": "case"},
        ],
        "settings": {"reentry": {"policy": "never"}},
    }
    handover = {
        "nodes": [
            {
                "id": "start",
                "kind": "entry",
                "trigger": {"type": "stage_changed", "stage": "mql"},
                "x": 40,
                "y": 120,
            },
            {
                "id": "task",
                "kind": "task",
                "title": "24 小时内联系新 MQL",
                "due_in_s": 86400,
                "x": 240,
                "y": 120,
            },
            {
                "id": "tell",
                "kind": "notify",
                "text": "一位客户成为 MQL，请在 24 小时内跟进。",
                "x": 440,
                "y": 120,
            },
        ],
        "edges": [{"source": "start", "target": "task"}, {"source": "task", "target": "tell"}],
        "settings": {"reentry": {"policy": "after_exit"}},
    }
    for name, graph in (
        ("白皮书培育 Whitepaper nurture", nurture),
        ("MQL 交接 MQL hand-over", handover),
    ):
        row = journeys.create(session, actor, name, None, graph, now)
        journeys.publish(session, actor, row.id, now)
