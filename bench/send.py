"""Email sending at scale: a broadcast of a personalised, tracked marketing email to a segment,
written to the outbox by its job and sent by the dispatcher over SMTP to a local sink.

The email is what marketers send: a ~19 KB HTML newsletter with a stylesheet (inlined), five
personal fields (name, company, city, the sender's name, a custom field), ten links (each
rewritten for click tracking), the open pixel, the one-click List-Unsubscribe header and the
unsubscribe link. Every send-time check is on: consent, suppression (the list holds 1,000
addresses), quiet hours (none at the hour the benchmark runs: they are set around it) and a
weekly cap. The sink (``_smtp_sink``) is a separate process that only counts, so it is not the
bottleneck. ``workers`` dispatcher processes share the outbox (PostgreSQL; SQLite runs one).
Scale: small = 3,000 emails, full = 100,000 (the issue's goal: ≥ 500 emails/s on 2 cores).
"""

from __future__ import annotations

import multiprocessing
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

import _seed
from _smtp_sink import Sink
from guanxi.config import Settings
from guanxi.db import bulk_insert, make_engine, make_sessionmaker, transaction
from guanxi.kit.clock import utcnow
from guanxi.kit.ids import new_ids
from guanxi.message import accounts, broadcasts, templates
from guanxi.message.dispatcher import Dispatcher
from guanxi.migrate import upgrade
from guanxi.models import (
    Account,
    ContactAccount,
    Message,
    SegmentMember,
    SendingPolicy,
    Suppression,
)
from guanxi.segment import manage as segments
from guanxi.segment.schemas import SegmentIn

SCALES = {"small": {"emails": 3_000}, "full": {"emails": 100_000}}
SECRET = "bench-secret-key"  # noqa: S105 - a throwaway key for a throwaway database
STYLE = "p{color:#333;font-size:14px;line-height:1.6} a{color:#c00} td{padding:8px}"


def newsletter() -> str:
    links = "".join(
        f'<tr><td><a href="https://example.com/article/{i}?utm_source=edm">第{i}篇：行业洞察与实践</a></td></tr>'
        for i in range(10)
    )
    body = (
        "<p>"
        + "我们整理了本季度最受关注的营销自动化实践，涵盖私域运营、线索评分与旅程设计。" * 150
        + "</p>"
    )
    return (
        f"<html><head><style>{STYLE}</style></head><body>"
        "<p>{{ contact.name | default('您好') }}，来自{{ account.name | default('贵公司') }}"
        "（{{ contact.city | default('') }}）的朋友：</p>"
        f"{body}<table>{links}</table>"
        "<p>会员等级：{{ contact.custom.tier | default('普通') }}</p>"
        "<p>{{ sender.name }} 敬上</p>"
        '<p><a href="{{ unsubscribe_url }}">退订</a></p></body></html>'
    )


def _setup(factory: Any, n: int, port: int) -> tuple[int, int]:
    workspace_id, user_id = _seed.workspace(factory, "send-bench")
    ids = _seed.contacts(
        factory,
        workspace_id,
        n,
        lambda i: {
            "name": f"客户{i}",
            "email": f"c{i}@kehu{i % 50}.cn",
            "city": ("上海", "北京", "深圳")[i % 3],
            "custom": {"tier": ("金卡", "银卡")[i % 2]},
            "owner_id": user_id,
            "timezone": "Asia/Shanghai",
        },
    )
    now = utcnow()
    local_hour = now.astimezone(ZoneInfo("Asia/Shanghai")).hour
    with transaction(factory) as s:
        actor = _seed.principal(s, workspace_id, user_id)
        account = Account(
            workspace_id=workspace_id,
            name="华东制造",
            name_key="华东制造",
            created_at=now,
            updated_at=now,
        )
        s.add(account)
        s.flush()
        bulk_insert(
            s,
            ContactAccount,
            [
                {
                    "workspace_id": workspace_id,
                    "contact_id": c,
                    "account_id": account.id,
                    "created_at": now,
                }
                for c in ids[::2]
            ],
        )
        accounts.save(
            s,
            actor,
            SECRET,
            now,
            row=None,
            channel="email",
            kind="smtp",
            name="sink",
            config={
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "from_address": "news@guanxi.test",
                "from_name": "关系",
                "pool_size": 8,
            },
            is_default=True,
            rate_per_s=None,
            enabled=True,
        )
        s.add(
            SendingPolicy(
                workspace_id=workspace_id,
                quiet_start=f"{(local_hour + 3) % 24:02d}:00",
                quiet_end=f"{(local_hour + 5) % 24:02d}:00",
                caps=[{"channel": "all", "count": 3, "days": 7}],
                opt_in_channels=[],
                updated_at=now,
            )
        )
        bulk_insert(
            s,
            Suppression,
            [
                {
                    "workspace_id": workspace_id,
                    "id": i,
                    "channel": "email",
                    "address": f"blocked{k}@elsewhere.cn",
                    "reason": "bounce",
                    "created_at": now,
                }
                for k, i in enumerate(new_ids(1000))
            ],
        )
        template = templates.save(
            s,
            actor,
            {
                "channel": "email",
                "name": "季度通讯",
                "subject": "{{ contact.name }}，本季度精选",
                "html": newsletter(),
            },
            now,
        )
        segment = segments.create(s, actor, SegmentIn(name="全部", kind="static"), now)
        bulk_insert(
            s,
            SegmentMember,
            [
                {
                    "workspace_id": workspace_id,
                    "segment_id": segment.id,
                    "contact_id": c,
                    "since": now,
                }
                for c in ids
            ],
        )
        broadcast = broadcasts.create(
            s,
            actor,
            name="季度通讯",
            template_id=template.id,
            segment_id=segment.id,
            marketing=True,
            now=now,
        )
        return workspace_id, broadcast.id


def _dispatch(database_url: str) -> None:
    """One dispatcher process: rounds until no message waits."""
    engine = make_engine(database_url)
    factory = make_sessionmaker(engine)
    settings = Settings(
        database_url=database_url, secret_key=SECRET, base_url="https://gx.example.cn"
    )
    dispatcher = Dispatcher(factory, settings, batch=400)
    try:
        while True:
            if not dispatcher.run_once():
                with transaction(factory) as s:
                    left = s.scalar(
                        select(func.count()).where(Message.status.in_(("queued", "sending")))
                    )
                if not left:
                    break
                time.sleep(0.05)
    finally:
        dispatcher.close()
        engine.dispose()


def run(database_url: str, scale: str) -> dict[str, Any]:
    n = SCALES[scale]["emails"]
    upgrade(database_url)
    engine = make_engine(database_url)
    factory = make_sessionmaker(engine)
    workers = 2 if database_url.startswith("postgresql") else 1
    with Sink() as sink:
        workspace_id, broadcast_id = _setup(factory, n, sink.port)
        started = time.perf_counter()
        after: int | None = 0
        now: datetime = utcnow()
        while after is not None:
            with transaction(factory) as s:
                row = s.get(broadcasts.Broadcast, (workspace_id, broadcast_id))
                assert row is not None
                after = broadcasts.page(s, row, after, now)
        queue_s = time.perf_counter() - started
        started = time.perf_counter()
        procs = [
            multiprocessing.Process(target=_dispatch, args=(database_url,)) for _ in range(workers)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        send_s = time.perf_counter() - started
        received = sink.count
    with transaction(factory) as s:
        statuses = dict(
            s.execute(
                select(Message.status, func.count())
                .where(Message.workspace_id == workspace_id)
                .group_by(Message.status)
            ).all()
        )
    engine.dispose()
    assert received == n, (received, statuses)
    return {
        "scale": {
            "emails": n,
            "html_kb": round(len(newsletter().encode()) / 1024, 1),
            "dispatchers": workers,
        },
        "metrics": {
            "emails_per_s": round(n / send_s),
            "queue_writes_per_s": round(n / queue_s),
            "received": received,
            "sent": statuses.get("sent", 0),
        },
    }
