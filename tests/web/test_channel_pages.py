"""The console's channel settings and broadcasts: a channel account made and edited through the
form built from its connector's settings (a secret kept when left empty and never shown back),
turned off, made the default and deleted; the sending policy; a broadcast created and sent (its
job queued); refusals that write nothing, readers who cannot write, another workspace's ids."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select, update

from guanxi.auth.permissions import Role
from guanxi.message import accounts
from guanxi.models import ChannelAccount, Job, Message
from tests.factories import Tenant, make_tenant
from tests.message.support import contact, sandbox, template
from tests.web.test_console import console_login, csrf_of

SMTP = {
    "name": "企业邮箱",
    "channel": "email",
    "kind": "smtp",
    "cfg_host": "smtp.example.cn",
    "cfg_port": "465",
    "cfg_security": "ssl",
    "cfg_verify_tls": "1",
    "cfg_username": "news@example.cn",
    "cfg_password": "s3cret-Passw0rd",
    "cfg_from_address": "news@example.cn",
    "cfg_from_name": "关系 Guanxi",
    "cfg_per_domain_per_s": '{"qq.com": 20}',
    "enabled": "1",
}


def _stored(tenant: Tenant, app: FastAPI, account_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The account's plain settings and its secrets, decrypted."""
    with tenant.session() as s:
        row = s.get(ChannelAccount, (tenant.workspace_id, int(account_id)))
        assert row is not None
        return dict(row.config), accounts.unsealed(app.state.settings.secret_key, row)


def test_a_channel_account_through_the_form_keeps_its_secret(app: FastAPI) -> None:
    tenant = make_tenant(app)
    console = console_login(app, tenant.admin.email)
    form = console.get("/app/settings/channels/new", params={"kind": "smtp", "channel": "email"})
    assert form.status_code == 200
    for name, kind in (
        ("cfg_host", 'name="cfg_host" value="" required'),
        ("cfg_port", 'type="number" name="cfg_port" value="587" step="1" min="1" max="65535"'),
        ("cfg_password", 'type="password" name="cfg_password"'),
        ("cfg_verify_tls", 'type="checkbox" name="cfg_verify_tls" value="1" checked'),
        ("cfg_per_domain_per_s", '<textarea name="cfg_per_domain_per_s"'),
    ):
        assert kind in form.text, name
    assert '<option value="starttls" selected>' in form.text
    assert 'data-testid="secret-unset"' in form.text
    token = csrf_of(form.text)

    # refused: nothing written, the typed settings kept, the secret not echoed
    for bad, why in (
        ({"cfg_host": ""}, "host: Field required"),
        ({"cfg_port": "99999"}, "port: Input should be less than or equal to 65535"),
        ({"cfg_per_domain_per_s": "{qq.com"}, "per_domain_per_s is not valid JSON"),
        ({"name": ""}, "Some fields are not valid."),
    ):
        refused = console.post("/app/settings/channels", data={"csrf_token": token, **SMTP, **bad})
        assert refused.status_code == 422, bad
        assert why in refused.text, bad
        assert "news@example.cn" in refused.text
        assert SMTP["cfg_password"] not in refused.text
    assert tenant.call("GET", "/channel-accounts") == []

    made = console.post(
        "/app/settings/channels", data={"csrf_token": token, **SMTP}, follow_redirects=False
    )
    assert made.status_code == 303, made.text
    [account] = tenant.call("GET", "/channel-accounts")
    assert (account["name"], account["kind"], account["is_default"], account["enabled"]) == (
        "企业邮箱",
        "smtp",
        True,
        True,
    )
    assert account["secrets_set"] == ["password"]
    config, secrets = _stored(tenant, app, account["id"])
    assert config["port"] == 465
    assert config["verify_tls"] is True
    assert config["per_domain_per_s"] == {"qq.com": 20}
    assert secrets == {"password": SMTP["cfg_password"]}

    # edited with the password left empty: kept, and never shown
    page = console.get(f"/app/settings/channels/{account['id']}").text
    assert SMTP["cfg_password"] not in page
    assert 'data-testid="secret-set"' in page
    assert 'value="smtp.example.cn"' in page
    assert "{&#34;qq.com&#34;: 20}" in page
    edited = {**SMTP, "cfg_password": "", "cfg_host": "smtp2.example.cn"}
    del edited["cfg_verify_tls"]
    saved = console.post(
        f"/app/settings/channels/{account['id']}",
        data={"csrf_token": token, **edited},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    config, secrets = _stored(tenant, app, account["id"])
    assert (config["host"], config["verify_tls"]) == ("smtp2.example.cn", False)
    assert secrets == {"password": SMTP["cfg_password"]}
    for url in ("/app/settings/channels", f"/app/settings/channels/{account['id']}"):
        assert SMTP["cfg_password"] not in console.get(url).text


def test_accounts_turned_off_made_default_and_deleted(app: FastAPI) -> None:
    tenant = make_tenant(app)
    first = sandbox(tenant, "sms", f"cp-{tenant.workspace_id}")
    second = sandbox(tenant, "sms", f"cp2-{tenant.workspace_id}", webhook_secret="hook-secret")
    console = console_login(app, tenant.admin.email)
    listing = console.get("/app/settings/channels").text
    assert listing.count('data-testid="account-row"') == 2
    token = csrf_of(listing)
    url = f"/app/settings/channels/{second}"
    for action, data in (("/default", {}), ("/enabled", {"enabled": "0"})):
        done = console.post(url + action, data={"csrf_token": token, **data})
        assert done.status_code == 200  # followed to the list
    shown = {
        a["id"]: (a["is_default"], a["enabled"]) for a in tenant.call("GET", "/channel-accounts")
    }
    assert shown == {first: (False, True), second: (True, False)}
    assert _stored(tenant, app, second)[1] == {"webhook_secret": "hook-secret"}

    waiting = template(tenant, "sms", "通知")
    person = contact(tenant, phone="13800138000")
    message = tenant.call("POST", "/messages", json={"contact_id": person, "template_id": waiting})
    with tenant.session() as s:  # the message waits to go through the first account
        s.execute(
            update(Message)
            .where(Message.workspace_id == tenant.workspace_id, Message.id == int(message["id"]))
            .values(channel_account_id=int(first))
        )
    refused = console.post(f"/app/settings/channels/{first}/delete", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "still has messages waiting" in refused.text
    gone = console.post(f"{url}/delete", data={"csrf_token": token}, follow_redirects=False)
    assert gone.status_code == 303
    assert [a["id"] for a in tenant.call("GET", "/channel-accounts")] == [first]


def test_the_sending_policy_saves(app: FastAPI) -> None:
    tenant = make_tenant(app)
    console = console_login(app, tenant.admin.email)
    form = console.get("/app/settings/channels/policy").text
    assert form.count('data-testid="cap-row"') == 3
    token = csrf_of(form)
    policy = {
        "csrf_token": token,
        "quiet_start": "21:00",
        "quiet_end": "08:00",
        "cap_channel": ["all", "email", "all"],
        "cap_count": ["2", "1", ""],
        "cap_days": ["7", "1", ""],
        "opt_in_channels": ["wecom", "sms"],
    }
    saved = console.post("/app/settings/channels/policy", data=policy, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert tenant.call("GET", "/sending-policy") == {
        "quiet_start": "21:00",
        "quiet_end": "08:00",
        "caps": [
            {"channel": "all", "count": 2, "days": 7},
            {"channel": "email", "count": 1, "days": 1},
        ],
        "opt_in_channels": ["sms", "wecom"],
    }
    page = console.get(saved.headers["location"]).text
    assert 'data-testid="saved"' in page
    assert page.count('data-testid="cap-row"') == 5
    assert 'value="21:00"' in page

    refused = console.post(
        "/app/settings/channels/policy",
        data={**policy, "quiet_start": "25:00", "cap_count": ["0", "1", ""]},
    )
    assert refused.status_code == 422
    assert 'data-testid="form-error"' in refused.text
    assert 'value="25:00"' in refused.text  # what was typed is kept
    assert tenant.call("GET", "/sending-policy")["quiet_start"] == "21:00"


def _segment(tenant: Tenant, size: int) -> str:
    segment = tenant.call("POST", "/segments", json={"name": "老客户", "kind": "static"})
    people = [contact(tenant, email=f"b{i}-{tenant.workspace_id}@example.cn") for i in range(size)]
    tenant.call("POST", f"/segments/{segment['id']}/members", json={"contact_ids": people})
    return str(segment["id"])


def test_a_broadcast_is_created_and_sent(app: FastAPI) -> None:
    tenant = make_tenant(app)
    segment = _segment(tenant, 3)
    news = template(tenant, "email", "月刊", subject="月刊", html="<p>hi</p>")
    console = console_login(app, tenant.admin.email)
    listing = console.get("/app/broadcasts").text
    token = csrf_of(listing)
    draft = {"csrf_token": token, "name": "三月月刊", "template_id": news, "segment_id": segment}
    refused = console.post("/app/broadcasts", data={**draft, "template_id": ""})
    assert refused.status_code == 422
    assert 'value="三月月刊"' in refused.text
    assert tenant.call("GET", "/broadcasts") == []

    made = console.post("/app/broadcasts", data=draft, follow_redirects=False)
    assert made.status_code == 303
    [broadcast] = tenant.call("GET", "/broadcasts")
    assert (broadcast["status"], broadcast["marketing"], broadcast["channel"]) == (
        "draft",
        False,
        "email",
    )
    listing = console.get("/app/broadcasts").text
    confirm = re.search(r'data-confirm="([^"]*)"', listing)
    assert confirm is not None
    assert confirm.group(1) == "Send 三月月刊 to the 3 members of 老客户 now?"

    sent = console.post(
        f"/app/broadcasts/{broadcast['id']}/send",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    after = tenant.call("GET", f"/broadcasts/{broadcast['id']}")
    assert after["status"] == "sending"
    assert after["job_id"]
    with tenant.session() as s:
        job = s.scalar(
            select(Job).where(
                Job.workspace_id == tenant.workspace_id, Job.id == int(after["job_id"])
            )
        )
        assert job is not None
        assert (job.kind, job.status) == ("broadcast", "pending")
    listing = console.get("/app/broadcasts").text
    assert 'data-testid="send-broadcast"' not in listing
    assert f'href="/app/messages?broadcast_id={broadcast["id"]}"' in listing
    again = console.post(f"/app/broadcasts/{broadcast['id']}/send", data={"csrf_token": token})
    assert again.status_code == 409
    assert "has been sent already" in again.text


def test_readers_see_the_settings_and_change_nothing(app: FastAPI) -> None:
    tenant = make_tenant(app)
    account = sandbox(tenant, "email", f"cr-{tenant.workspace_id}")
    segment = _segment(tenant, 1)
    news = template(tenant, "email", "月刊", subject="月刊", html="<p>hi</p>")
    broadcast = tenant.call(
        "POST", "/broadcasts", json={"name": "b", "template_id": news, "segment_id": segment}
    )
    marketer = tenant.add(Role.marketer)
    viewer = tenant.add(Role.viewer)
    # a marketer sets the sending policy but not the accounts (credentials are the admins')
    console = console_login(app, marketer.email)
    listing = console.get("/app/settings/channels").text
    assert 'data-testid="account-row"' in listing
    assert 'data-testid="new-account"' not in listing
    assert 'data-testid="save-account"' not in console.get(f"/app/settings/channels/{account}").text
    assert 'data-testid="save-policy"' in console.get("/app/settings/channels/policy").text
    token = csrf_of(listing)
    for url, data in (
        ("/app/settings/channels", {**SMTP}),
        (f"/app/settings/channels/{account}", {"name": "改名", "channel": "email"}),
        (f"/app/settings/channels/{account}/enabled", {"enabled": "0"}),
        (f"/app/settings/channels/{account}/delete", {}),
    ):
        assert console.post(url, data={"csrf_token": token, **data}).status_code == 403, url
    assert console.get("/app/settings/channels/new").status_code == 403
    [kept] = tenant.call("GET", "/channel-accounts")
    assert (kept["name"], kept["enabled"]) == ("email sandbox", True)

    console = console_login(app, viewer.email)
    for url in ("/app/broadcasts", "/app/settings/channels/policy"):
        page = console.get(url)
        assert page.status_code == 200
        assert 'data-testid="save-policy"' not in page.text
        assert 'data-testid="new-broadcast"' not in page.text
        assert 'data-testid="send-broadcast"' not in page.text
    token = csrf_of(page.text)
    for url, data in (
        ("/app/settings/channels/policy", {"quiet_start": "22:00", "quiet_end": "07:00"}),
        ("/app/broadcasts", {"name": "x", "template_id": news, "segment_id": segment}),
        (f"/app/broadcasts/{broadcast['id']}/send", {}),
    ):
        assert console.post(url, data={"csrf_token": token, **data}).status_code == 403, url
    assert tenant.call("GET", "/sending-policy")["quiet_start"] is None
    assert [b["status"] for b in tenant.call("GET", "/broadcasts")] == ["draft"]


def test_another_workspaces_accounts_and_broadcasts_are_not_found(app: FastAPI) -> None:
    victim = make_tenant(app)
    account = sandbox(victim, "email", f"cv-{victim.workspace_id}")
    segment = _segment(victim, 1)
    news = template(victim, "email", "月刊", subject="月刊", html="<p>hi</p>")
    broadcast = victim.call(
        "POST", "/broadcasts", json={"name": "b", "template_id": news, "segment_id": segment}
    )
    intruder = make_tenant(app)
    console = console_login(app, intruder.admin.email)
    token = csrf_of(console.get("/app/broadcasts").text)
    assert console.get(f"/app/settings/channels/{account}").status_code == 404
    for url, data in (
        (f"/app/settings/channels/{account}", {**SMTP}),
        (f"/app/settings/channels/{account}/enabled", {"enabled": "0"}),
        (f"/app/settings/channels/{account}/default", {}),
        (f"/app/settings/channels/{account}/delete", {}),
        (f"/app/broadcasts/{broadcast['id']}/send", {}),
    ):
        assert console.post(url, data={"csrf_token": token, **data}).status_code == 404, url
    refused = console.post(
        "/app/broadcasts",
        data={"csrf_token": token, "name": "x", "template_id": news, "segment_id": segment},
    )
    assert refused.status_code == 404
    assert victim.call("GET", f"/channel-accounts/{account}")["enabled"] is True
    assert victim.call("GET", f"/broadcasts/{broadcast['id']}")["status"] == "draft"
    assert intruder.call("GET", "/broadcasts") == []
