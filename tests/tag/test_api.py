"""The tags API: groups, tags with holder counts, a contact's tags, bulk tagging, scopes,
refusals that write nothing, and other workspaces' ids."""

from __future__ import annotations

from fastapi import FastAPI

from guanxi.auth.permissions import DataScope, Role
from tests.factories import make_tenant
from tests.tag.client import Api


def test_groups_and_tags_are_managed_and_counted(app: FastAPI) -> None:
    api = Api(make_tenant(app))
    intent = api.group("意向度", exclusive=True)
    assert api.post("/tag-groups", {"name": "意向度"}, 409)["error"]["code"] == "already_exists"
    hot = api.tag("高意向", group_id=intent, type="model")
    assert api.post("/tags", {"name": "高意向"}, 409)["error"]["code"] == "already_exists"
    assert api.post("/tags", {"name": "x", "group_id": "1"}, 404)["error"]["code"] == "not_found"
    vip = api.tag("VIP")
    a, b = api.contact("张伟"), api.contact("李娜")
    api.post(f"/contacts/{a}/tags", {"tag_ids": [hot, vip]})
    api.post(f"/contacts/{b}/tags", {"tag_ids": [vip]})

    listed = {t["name"]: t for t in api.get("/tags")["items"]}
    assert (listed["VIP"]["contacts"], listed["高意向"]["contacts"]) == (2, 1)
    assert listed["高意向"]["group_id"] == intent
    assert listed["高意向"]["type"] == "model"
    assert [t["name"] for t in api.get(f"/tags?group_id={intent}")["items"]] == ["高意向"]
    assert [t["name"] for t in api.get("/tags?q=VI")["items"]] == ["VIP"]
    first = api.get("/tags?limit=1")
    assert len(first["items"]) == 1
    assert first["next_cursor"]
    second = api.get(f"/tags?limit=1&cursor={first['next_cursor']}")
    assert second["items"][0]["name"] != first["items"][0]["name"]

    renamed = api.patch(f"/tags/{vip}", {"name": "VIP客户", "group_id": intent})
    assert (renamed["name"], renamed["group_id"], renamed["contacts"]) == ("VIP客户", intent, 2)
    assert api.patch(f"/tags/{vip}", {"name": "高意向"}, 409)["error"]["code"] == "already_exists"
    assert api.patch(f"/tags/{vip}", {"group_id": None})["group_id"] is None
    assert api.delete(f"/tag-groups/{intent}", 409)["error"]["code"] == "in_use"
    api.patch(f"/tag-groups/{intent}", {"name": "购买意向", "exclusive": False})
    assert api.get(f"/tag-groups/{intent}")["name"] == "购买意向"

    api.delete(f"/tags/{hot}")
    api.get(f"/tags/{hot}", 404)
    assert api.tags_of(a) == ["VIP客户"]
    assert ("tag_removed", "高意向") in api.timeline(a)
    api.delete(f"/tag-groups/{intent}")
    assert api.get("/tag-groups")["items"] == []


def test_a_contact_is_tagged_and_untagged_on_its_timeline(app: FastAPI) -> None:
    api = Api(make_tenant(app))
    vip, lead = api.tag("VIP"), api.tag("线索")
    c = api.contact("王芳")
    held = api.post(f"/contacts/{c}/tags", {"tag_ids": [vip, lead]})["items"]
    assert {h["source"] for h in held} == {"api"}
    assert {h["actor_id"] for h in held} == {str(api.tenant.admin.user_id)}
    api.post(f"/contacts/{c}/tags", {"tag_ids": [vip]})  # held already: nothing new
    api.delete(f"/contacts/{c}/tags/{lead}")
    api.delete(f"/contacts/{c}/tags/{lead}")  # idempotent
    assert api.tags_of(c) == ["VIP"]
    assert api.timeline(c) == [("tag_added", "VIP"), ("tag_added", "线索"), ("tag_removed", "线索")]
    event = api.get(f"/contacts/{c}/timeline?type=tag_added&limit=1")["items"][0]
    assert event["properties"]["source"] == "api"
    assert event["properties"]["tag_id"]


def test_an_exclusive_group_keeps_one_tag(app: FastAPI) -> None:
    api = Api(make_tenant(app))
    level = api.group("客户等级", exclusive=True)
    a, b, c = (api.tag(n, group_id=level) for n in ("A级", "B级", "C级"))
    free = api.tag("关注产品")
    person = api.contact("赵强")
    api.post(f"/contacts/{person}/tags", {"tag_ids": [a, free]})
    api.post(f"/contacts/{person}/tags", {"tag_ids": [b]})
    assert api.tags_of(person) == ["B级", "关注产品"]
    api.post(f"/contacts/{person}/tags", {"tag_ids": [a, c]})  # the last one stays
    assert api.tags_of(person) == ["C级", "关注产品"]
    assert ("tag_removed", "A级") in api.timeline(person)
    assert ("tag_removed", "B级") in api.timeline(person)


def test_bulk_by_ids_and_by_condition(app: FastAPI) -> None:
    tenant, other = make_tenant(app), make_tenant(app, "Other")
    api, theirs = Api(tenant), Api(other)
    vip = api.tag("VIP")
    shanghai = [api.contact(f"沪{i}", city="上海") for i in range(3)]
    beijing = api.contact("京", city="北京")
    stranger = theirs.contact("Their contact")
    done = api.post(
        f"/tags/{vip}/contacts", {"contact_ids": [*shanghai[:2], stranger, shanghai[0]]}
    )
    assert done == {"matched": 2, "changed": 2}
    assert theirs.tags_of(stranger) == []
    condition = {"kind": "field", "field": "city", "op": "eq", "value": "上海"}
    assert api.post(f"/tags/{vip}/contacts", {"condition": condition}) == {
        "matched": 3,
        "changed": 1,
    }
    assert api.get(f"/tags/{vip}")["contacts"] == 3
    assert {c["id"] for c in api.get(f"/tags/{vip}/contacts")["items"]} == set(shanghai)
    assert api.tags_of(beijing) == []
    held = {"kind": "tag", "op": "any", "tags": [vip]}
    removed = api.post(f"/tags/{vip}/contacts", {"action": "remove", "condition": held})
    assert removed == {"matched": 3, "changed": 3}
    assert api.timeline(shanghai[0]) == [("tag_added", "VIP"), ("tag_removed", "VIP")]


def test_refused_requests_write_nothing(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    vip = api.tag("VIP")
    c = api.contact("钱多")
    bad = {"condition": {"kind": "field", "field": "custom.nope", "op": "eq", "value": "x"}}
    assert api.post(f"/tags/{vip}/contacts", bad, 422)["error"]["code"] == "invalid_condition"
    both = {"contact_ids": [c], "condition": {"kind": "field", "field": "city", "op": "is_set"}}
    api.post(f"/tags/{vip}/contacts", both, 422)
    # one unknown tag among good ones: none is added
    missing = api.post(f"/contacts/{c}/tags", {"tag_ids": [vip, "1"]}, 404)
    assert missing["error"]["details"] == {"tag_ids": ["1"]}
    marketer = tenant.add(Role.marketer)
    assert Api(tenant, marketer.auth).get(f"/contacts/{c}/tags")["items"] == []
    rep = tenant.add(Role.sales)  # own scope: the unowned contact is not theirs
    Api(tenant, rep.auth).post(f"/contacts/{c}/tags", {"tag_ids": [vip]}, 404)
    assert Api(tenant, rep.auth).post("/tags", {"name": "rep's"}, 403)["error"]["code"] == (
        "forbidden"
    )
    assert api.tags_of(c) == []
    assert api.timeline(c) == []
    assert api.get(f"/tags/{vip}")["contacts"] == 0
    assert [t["name"] for t in api.get("/tags")["items"]] == ["VIP"]


def test_a_department_tag_is_its_members_only(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    east = tenant.department("华东区")
    shanghai = tenant.department("上海组", parent_id=east)
    west = tenant.department("华西区")
    scoped = api.tag("华东重点", department_id=str(east))
    api.tag("公共")
    inside = Api(tenant, tenant.add(Role.sdr, department_id=shanghai).auth)
    outside = Api(tenant, tenant.add(Role.sdr, department_id=west).auth)
    everyone = Api(tenant, tenant.add(Role.sdr, department_id=west, data_scope=DataScope.all).auth)
    assert [t["name"] for t in inside.get("/tags")["items"]] == ["公共", "华东重点"]
    assert [t["name"] for t in outside.get("/tags")["items"]] == ["公共"]
    outside.get(f"/tags/{scoped}", 404)
    everyone.get(f"/tags/{scoped}")
    api.post("/tags", {"name": "x", "department_id": "1"}, 404)

    mine = inside.contact("团队客户")
    inside.post(f"/contacts/{mine}/tags", {"tag_ids": [scoped]})
    assert inside.tags_of(mine) == ["华东重点"]
    assert api.tags_of(mine) == ["华东重点"]


def test_other_workspaces_ids_are_not_found(app: FastAPI) -> None:
    mine, theirs = Api(make_tenant(app)), Api(make_tenant(app, "Other"))
    group = theirs.group("G")
    tag = theirs.tag("T", group_id=group)
    contact = theirs.contact("C")
    theirs.post(f"/contacts/{contact}/tags", {"tag_ids": [tag]})
    rule = theirs.post(
        "/tag-rules", {"name": "r", "tag_id": tag, "trigger": "code", "code": "x"}, 201
    )["id"]
    own_tag, own_contact = mine.tag("Mine"), mine.contact("Me")
    for path in (f"/tag-groups/{group}", f"/tags/{tag}", f"/tags/{tag}/contacts"):
        mine.get(path, 404)
    mine.get(f"/tag-rules/{rule}", 404)
    mine.get(f"/contacts/{contact}/tags", 404)
    mine.post(f"/contacts/{contact}/tags", {"tag_ids": [own_tag]}, 404)
    mine.post(f"/contacts/{own_contact}/tags", {"tag_ids": [tag]}, 404)
    mine.delete(f"/contacts/{contact}/tags/{tag}", 404)
    mine.post(f"/tags/{tag}/contacts", {"contact_ids": [contact]}, 404)
    mine.post("/tags", {"name": "x", "group_id": group}, 404)
    mine.patch(f"/tag-rules/{rule}", {"enabled": False}, 404)
    mine.delete(f"/tag-rules/{rule}", 404)
    mine.delete(f"/tags/{tag}", 404)
    mine.delete(f"/tag-groups/{group}", 404)
    assert theirs.tags_of(contact) == ["T"]
    assert theirs.get(f"/tag-rules/{rule}")["enabled"] is True
