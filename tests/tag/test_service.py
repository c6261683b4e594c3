"""Tag holdings beyond one request's worth: bulk tagging in chunks of 1,000, and contact merges
(tags move to the survivor and come back on undo)."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import func, select

from guanxi.identity import service as resolution
from guanxi.identity.rules import Key, Kind
from guanxi.kit.clock import utcnow
from guanxi.models import ContactMerge, Event
from tests.factories import make_tenant
from tests.tag.client import Api


def test_bulk_tagging_walks_thousands_in_chunks(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    tag = api.tag("大促")
    with tenant.session() as s:
        ids = resolution.create_people(
            s,
            tenant.workspace_id,
            [[Key(Kind.phone, "", f"+8613900{i:06d}")] for i in range(2_500)],
            source="test",
            now=utcnow(),
        )
    half = [str(i) for i in ids[:1_200]]
    assert api.post(f"/tags/{tag}/contacts", {"contact_ids": half}) == {
        "matched": 1_200,
        "changed": 1_200,
    }
    everyone = {"kind": "field", "field": "source", "op": "eq", "value": "test"}
    assert api.post(f"/tags/{tag}/contacts", {"condition": everyone}) == {
        "matched": 2_500,
        "changed": 1_300,
    }
    assert api.get(f"/tags/{tag}")["contacts"] == 2_500
    with tenant.session() as s:
        added = s.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.workspace_id == tenant.workspace_id, Event.type == "tag_added")
        )
    assert added == 2_500
    api.post(f"/tags/{tag}/contacts", {"contact_ids": [str(i) for i in range(1, 10_002)]}, 422)


def test_tags_move_on_merge_and_come_back_on_undo(app: FastAPI) -> None:
    tenant = make_tenant(app)
    api = Api(tenant)
    level = api.group("等级", exclusive=True)
    a_level, b_level = api.tag("A级", group_id=level), api.tag("B级", group_id=level)
    both, theirs, later = api.tag("共有"), api.tag("对方的"), api.tag("后加")
    keep, other = api.contact("保留"), api.contact("被合并")
    api.post(f"/contacts/{keep}/tags", {"tag_ids": [both, a_level]})
    api.post(f"/contacts/{other}/tags", {"tag_ids": [both, theirs, b_level, later]})

    merge = api.post(f"/contacts/{keep}/merge", {"other_id": other})
    assert api.tags_of(keep) == ["A级", "共有", "后加", "对方的"]  # the survivor's level wins
    with tenant.session() as s:
        log = s.get(ContactMerge, (tenant.workspace_id, int(merge["id"])))
        assert sorted(log.moved["tags"]) == sorted([theirs, later])
    # someone takes one copied tag away and gives it back: that one is theirs now
    api.delete(f"/contacts/{keep}/tags/{later}")
    api.post(f"/contacts/{keep}/tags", {"tag_ids": [later]})

    api.post(f"/merges/{merge['id']}/undo")
    assert api.tags_of(keep) == ["A级", "共有", "后加"]
    assert api.tags_of(other) == ["B级", "共有", "后加", "对方的"]


def test_undo_after_the_copied_tag_was_removed(app: FastAPI) -> None:
    api = Api(make_tenant(app))
    tag = api.tag("活动")
    keep, other = api.contact("K"), api.contact("O")
    api.post(f"/contacts/{other}/tags", {"tag_ids": [tag]})
    merge = api.post(f"/contacts/{keep}/merge", {"other_id": other})
    api.delete(f"/contacts/{keep}/tags/{tag}")
    api.post(f"/merges/{merge['id']}/undo")
    assert (api.tags_of(keep), api.tags_of(other)) == ([], ["活动"])
