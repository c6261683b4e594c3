"""Lookalikes: the contacts outside a seed segment that share its members' distinctive traits
rank first; contacts with nothing in common are not offered; the CSV carries the same list."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import make_tenant


def test_lookalikes_share_the_seed_traits(app: FastAPI) -> None:
    tenant, client = make_tenant(app), TestClient(app)

    def person(name: str, city: str, source: str) -> str:
        body = {"name": name, "city": city, "source": source}
        return str(tenant.call("POST", "/contacts", json=body)["id"])

    seed = [person(f"seed{i}", "杭州", "expo") for i in range(4)]
    twin = person("twin", "杭州", "expo")  # both traits
    half = person("half", "杭州", "web")  # one trait
    others = [person(f"other{i}", "北京", "web") for i in range(6)]  # none
    vip = tenant.call("POST", "/segments", json={"name": "Seed", "kind": "static"})
    tenant.call("POST", f"/segments/{vip['id']}/members", json={"contact_ids": seed})
    found = tenant.call("GET", f"/segments/{vip['id']}/lookalikes?limit=10")
    ranked = [f["contact"]["id"] for f in found]
    assert ranked == [twin, half]  # no seed member, nobody without a shared trait
    assert found[0]["similarity"] == 1.0
    assert 0 < found[1]["similarity"] < 1
    assert not set(ranked) & set(seed) | set(others) & set(ranked)
    r = client.get(f"/api/v1/segments/{vip['id']}/lookalikes.csv", headers=tenant.admin.auth)
    lines = r.text.lstrip("\ufeff").splitlines()
    assert lines[0] == "id,name,email,phone,similarity"
    assert [line.split(",")[0] for line in lines[1:]] == [twin, half]


def test_an_empty_seed_has_no_lookalikes(app: FastAPI) -> None:
    tenant = make_tenant(app)
    tenant.call("POST", "/contacts", json={"name": "x", "city": "杭州"})
    empty = tenant.call("POST", "/segments", json={"name": "Empty", "kind": "static"})
    assert tenant.call("GET", f"/segments/{empty['id']}/lookalikes") == []
