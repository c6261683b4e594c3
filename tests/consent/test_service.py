"""Consent rules: a change is a row and a ``consent_changed`` event, a repeat writes nothing;
the dispatcher's batch check (one query) against consent and the sending policy; opting out
and choosing per channel; a link's contact followed through a merge."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from guanxi.consent import service as consent
from guanxi.kit.clock import utcnow
from tests.consent.helpers import consents, contact, events, require_opt_in, statements
from tests.factories import make_tenant
from tests.tag.client import Api


def test_a_change_is_a_row_and_an_event_and_a_repeat_writes_nothing(app: FastAPI) -> None:
    tenant = make_tenant(app)
    ws, c = tenant.workspace_id, contact(tenant)
    given = utcnow().replace(microsecond=0)
    with tenant.session() as s:
        row, changed = consent.record(s, ws, c, "email", "opt_in", "form:Newsletter", given)
        assert changed
        assert (row.status, row.source) == ("opt_in", "form:Newsletter")
    with tenant.session() as s:
        row, changed = consent.record(
            s, ws, c, "email", "opt_in", "form:Webinar", given + timedelta(days=3)
        )
        assert not changed
        # the row keeps when and where the opt-in was given
        assert (row.source, row.updated_at) == ("form:Newsletter", given)
        _, changed = consent.record(s, ws, c, "email", "opt_out", None, given + timedelta(days=4))
        assert changed
    assert consents(tenant, c) == {"email": ("opt_out", None)}
    assert events(tenant, "consent_changed") == [
        (
            c,
            "consent_changed",
            {"channel": "email", "status": "opt_in", "source": "form:Newsletter"},
            "form:Newsletter",
        ),
        (c, "consent_changed", {"channel": "email", "status": "opt_out"}, None),
    ]


def test_the_contact_service_records_through_consent(app: FastAPI) -> None:
    """Forms and the contact API record consent through the contact service: the same rule."""
    tenant = make_tenant(app)
    c = contact(tenant)
    api = Api(tenant)
    api.put(f"/contacts/{c}/consent/sms", {"status": "opt_out", "source": "电话回访"})
    api.put(f"/contacts/{c}/consent/sms", {"status": "opt_out", "source": "again"})
    assert consents(tenant, c) == {"sms": ("opt_out", "电话回访")}
    assert [e[2] for e in events(tenant, "consent_changed")] == [
        {"channel": "sms", "status": "opt_out", "source": "电话回访"}
    ]


def test_blocked_checks_a_batch_in_one_query(app: FastAPI) -> None:
    tenant = make_tenant(app)
    ws = tenant.workspace_id
    out, opted_in, other_channel, silent = (contact(tenant, n) for n in "ABCD")
    now = utcnow()
    with tenant.session() as s:
        consent.record(s, ws, out, "email", "opt_out", "link", now)
        consent.record(s, ws, opted_in, "email", "opt_in", "form", now)
        consent.record(s, ws, other_channel, "sms", "opt_in", "form", now)
    batch = [out, opted_in, other_channel, silent]

    with tenant.session() as s, statements(tenant) as sql:
        assert consent.blocked(s, ws, "email", batch) == {out: "opted_out"}
        assert consent.blocked(s, ws, "email", []) == {}
    assert len(sql) == 1

    require_opt_in(tenant, "email")
    with tenant.session() as s, statements(tenant) as sql:
        assert consent.blocked(s, ws, "email", batch) == {
            out: "opted_out",
            other_channel: "no_opt_in",
            silent: "no_opt_in",
        }
        # nobody of the batch has a row on this channel: the policy still comes back
        assert consent.blocked(s, ws, "email", [silent]) == {silent: "no_opt_in"}
        assert consent.blocked(s, ws, "sms", batch) == {}
    assert len(sql) == 3

    # another workspace's rows and policy are not this one's
    stranger = make_tenant(app)
    with stranger.session() as s:
        assert consent.blocked(s, stranger.workspace_id, "email", batch) == {}


def test_refusal_is_the_rule() -> None:
    assert consent.refusal("opt_out", False) == "opted_out"
    assert consent.refusal("opt_out", True) == "opted_out"
    assert consent.refusal(None, True) == "no_opt_in"
    assert consent.refusal("opt_in", True) is None
    assert consent.refusal(None, False) is None


def test_unsubscribe_and_choices_write_only_what_changes(app: FastAPI) -> None:
    tenant = make_tenant(app)
    ws, c = tenant.workspace_id, contact(tenant)
    require_opt_in(tenant, "wecom")
    now = utcnow()
    with tenant.session() as s:
        assert consent.subscriptions(s, ws, c, ["email", "sms", "wecom"]) == {
            "email": True,
            "sms": True,
            "wecom": False,
        }
        changed = consent.unsubscribe(
            s, ws, c, ["email", "email"], source="unsubscribe_link", message_id=42, now=now
        )
        assert changed == ["email"]
        # sms: on, as it is; wecom: on, an opt-in; email: stays off
        consent.set_subscriptions(
            s,
            ws,
            c,
            {"email": False, "sms": True, "wecom": True},
            source="preference_centre",
            message_id=None,
            now=now,
        )
    assert consents(tenant, c) == {
        "email": ("opt_out", "unsubscribe_link"),
        "wecom": ("opt_in", "preference_centre"),
    }
    assert [(e[1], e[2]) for e in events(tenant, "unsubscribed")] == [
        ("unsubscribed", {"channel": "email", "message_id": "42"})
    ]
    with tenant.session() as s:
        rows = {
            ch: (row.status if row else None, why) for ch, row, why in consent.overview(s, ws, c)
        }
        assert rows == {
            "email": ("opt_out", "opted_out"),
            "sms": (None, None),
            "wecom": ("opt_in", None),
            "wechat": (None, None),
            "whatsapp": (None, None),
            "phone": (None, None),
        }


def test_a_link_follows_its_contact_through_a_merge(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    keep, other = contact(tenant, "留下"), contact(tenant, "并入")
    api.post(f"/contacts/{keep}/merge", {"other_id": str(other)})
    with tenant.session() as s:
        found = consent.person(s, tenant.workspace_id, other)
        assert found is not None
        assert found.id == keep
        assert consent.person(s, tenant.workspace_id, 1) is None
