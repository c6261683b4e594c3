"""Suppression lists: addresses kept normalised, added one or many or from a CSV file, searched,
removed; the dispatcher's batch check (one query); bounces and complaints."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from guanxi.consent import suppression
from guanxi.errors import NotFound
from guanxi.kit.clock import utcnow
from guanxi.models import Suppression
from tests.consent.helpers import consents, contact, events, statements
from tests.factories import Tenant, make_tenant


def add(tenant: Tenant, channel: str, *addresses: str, reason: str = "manual") -> suppression.Added:
    with tenant.session() as s:
        return suppression.add(
            s,
            tenant.principal_in(s, tenant.admin),
            channel,
            list(addresses),
            reason=reason,
            note=None,
            source="test",
            now=utcnow(),
        )


def listed(tenant: Tenant) -> list[tuple[str, str, str, str | None]]:
    with tenant.session() as s:
        rows = s.scalars(
            select(Suppression)
            .where(Suppression.workspace_id == tenant.workspace_id)
            .order_by(Suppression.channel, Suppression.address)
        )
        return [(r.channel, r.address, r.reason, r.source) for r in rows]


def test_addresses_are_kept_normalised_and_once(app: FastAPI) -> None:
    tenant = make_tenant(app)
    assert add(tenant, "email", " Li.Lei@Example.CN ", "li.lei@example.cn") == suppression.Added(
        1, 0
    )
    assert add(tenant, "sms", "138 0013 8000", "+86 13800138000", "008613800138001") == (
        suppression.Added(2, 0)
    )
    assert add(tenant, "email", "LI.LEI@example.cn", "wang@example.cn") == suppression.Added(1, 1)
    add(tenant, "wecom", " wmABCdef ")
    assert listed(tenant) == [
        ("email", "li.lei@example.cn", "manual", "test"),
        ("email", "wang@example.cn", "manual", "test"),
        ("sms", "+8613800138000", "manual", "test"),
        ("sms", "+8613800138001", "manual", "test"),
        ("wecom", "wmABCdef", "manual", "test"),
    ]


def test_one_invalid_address_refuses_the_call(app: FastAPI) -> None:
    tenant = make_tenant(app)
    with pytest.raises(suppression.InvalidAddresses) as refused:
        add(tenant, "email", "ok@example.cn", "not-an-email", "")
    assert refused.value.params["count"] == 2
    with pytest.raises(suppression.InvalidAddresses):
        add(tenant, "sms", "12")
    assert listed(tenant) == []


def test_suppressed_answers_for_a_batch_in_one_query(app: FastAPI) -> None:
    tenant, stranger = make_tenant(app), make_tenant(app)
    add(tenant, "email", "zhao@acme.cn")
    add(tenant, "sms", "13800138000")
    add(stranger, "email", "qian@acme.cn")
    asked = ["Zhao@ACME.cn", "qian@acme.cn", "nobody@acme.cn", "broken@", "zhao@acme.cn"]
    with tenant.session() as s, statements(tenant) as sql:
        assert suppression.suppressed(s, tenant.workspace_id, "email", asked) == {
            "Zhao@ACME.cn",
            "zhao@acme.cn",
        }
        assert suppression.suppressed(s, tenant.workspace_id, "sms", ["+86 138-0013-8000"]) == {
            "+86 138-0013-8000"
        }
        assert suppression.suppressed(s, tenant.workspace_id, "whatsapp", ["+8613800138000"]) == (
            set()
        )
        assert suppression.suppressed(s, tenant.workspace_id, "email", []) == set()
    assert len(sql) == 3


def test_a_csv_list_in_any_usual_shape(app: FastAPI) -> None:
    tenant = make_tenant(app)

    def upload(data: bytes, channel: str = "email") -> suppression.Added:
        with tenant.session() as s:
            return suppression.import_csv(
                s,
                tenant.principal_in(s, tenant.admin),
                channel,
                data,
                reason="unsubscribe",
                note="旧平台退订",
                source="import:old.csv",
                now=utcnow(),
            )

    # Excel in China: GBK, a header in Chinese, the addresses in the second column
    gbk = "姓名,邮箱\n张三,Zhang@Acme.cn\n李四,不是邮箱\n王五,wang@acme.cn\n".encode("gb18030")
    assert upload(gbk) == suppression.Added(2, 0, 1, ("不是邮箱",))
    # UTF-8 with a byte-order mark, no header, semicolons
    assert upload("\ufeffzhang@acme.cn;x\nzhao@acme.cn;y\n".encode()) == suppression.Added(1, 1)
    # a header that names nothing known: the first column, the header line skipped
    assert upload(b"mobile phone\n13800138000\n\n13800138001\n", "sms") == suppression.Added(2, 0)
    assert listed(tenant) == [
        ("email", "wang@acme.cn", "unsubscribe", "import:old.csv"),
        ("email", "zhang@acme.cn", "unsubscribe", "import:old.csv"),
        ("email", "zhao@acme.cn", "unsubscribe", "import:old.csv"),
        ("sms", "+8613800138000", "unsubscribe", "import:old.csv"),
        ("sms", "+8613800138001", "unsubscribe", "import:old.csv"),
    ]
    with pytest.raises(suppression.UnreadableList):
        upload(b"\x00\x01\x02\xff\xfe")
    with pytest.raises(suppression.ListTooLarge):
        upload(b"a@b.cn\n" * (suppression.MAX_FILE // 7 + 1))
    assert len(listed(tenant)) == 5


def test_listing_searches_filters_and_pages(app: FastAPI) -> None:
    tenant = make_tenant(app)
    add(tenant, "email", *(f"user{i}@acme.cn" for i in range(5)), "Boss@Other.cn")
    add(tenant, "sms", "13800138000")
    with tenant.session() as s:
        actor = tenant.principal_in(s, tenant.admin)

        def page(**kw: object) -> tuple[list[str], str | None]:
            options = {"channel": None, "q": None, "sort": "address", "limit": 50, "cursor": None}
            rows, cursor = suppression.list_suppressions(s, actor, **{**options, **kw})  # type: ignore[arg-type]
            return [r.Suppression.address for r in rows], cursor

        assert page(q="BOSS")[0] == ["boss@other.cn"]
        assert page(channel="sms")[0] == ["+8613800138000"]
        first, cursor = page(channel="email", limit=4)
        assert first == ["boss@other.cn", "user0@acme.cn", "user1@acme.cn", "user2@acme.cn"]
        assert page(channel="email", limit=4, cursor=cursor) == (
            ["user3@acme.cn", "user4@acme.cn"],
            None,
        )
        assert page(q="100%")[0] == []


def test_remove_stays_in_its_workspace(app: FastAPI) -> None:
    tenant, stranger = make_tenant(app), make_tenant(app)
    add(tenant, "email", "a@acme.cn")
    with tenant.session() as s:
        row_id = s.scalars(
            select(Suppression.id).where(Suppression.workspace_id == tenant.workspace_id)
        ).one()
    with stranger.session() as s, pytest.raises(NotFound):
        suppression.remove(s, stranger.principal_in(s, stranger.admin), row_id)
    assert len(listed(tenant)) == 1
    with tenant.session() as s:
        suppression.remove(s, tenant.principal_in(s, tenant.admin), row_id)
    assert listed(tenant) == []


def test_bounces_and_complaints(app: FastAPI) -> None:
    tenant = make_tenant(app)
    ws = tenant.workspace_id
    bounced = contact(tenant, "退信", email="gone@acme.cn")
    angry = contact(tenant, "投诉", email="angry@acme.cn")
    now = utcnow()
    with tenant.session() as s:
        row = suppression.from_bounce(s, ws, "Gone@Acme.cn", "bounce", "smtp", now)
        assert (row.address, row.reason, row.source) == ("gone@acme.cn", "bounce", "smtp")
        first = suppression.from_bounce(s, ws, "angry@acme.cn", "complaint", "feedback-loop", now)
        # a second report keeps the first row and its reason
        again = suppression.from_bounce(s, ws, "ANGRY@acme.cn", "bounce", "smtp", now)
        assert (again.id, again.reason) == (first.id, "complaint")
        suppression.from_bounce(s, ws, "stranger@acme.cn", "complaint", "feedback-loop", now)
    assert listed(tenant) == [
        ("email", "angry@acme.cn", "complaint", "feedback-loop"),
        ("email", "gone@acme.cn", "bounce", "smtp"),
        ("email", "stranger@acme.cn", "complaint", "feedback-loop"),
    ]
    # the complaint opts its contact out of email; the bounce leaves consent alone
    assert consents(tenant, angry) == {"email": ("opt_out", "complaint")}
    assert consents(tenant, bounced) == {}
    assert [(e[0], e[2]) for e in events(tenant, "consent_changed")] == [
        (angry, {"channel": "email", "status": "opt_out", "source": "complaint"})
    ]
