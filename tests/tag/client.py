"""Helpers for the tag tests: the API as the tenant's administrator."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import Tenant


class Api:
    def __init__(self, tenant: Tenant, headers: dict[str, str] | None = None) -> None:
        self.tenant = tenant
        self.client = TestClient(tenant.app)
        self.headers = headers or tenant.admin.auth

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        r = self.client.request(method, f"/api/v1{path}", headers=self.headers, **kwargs)
        assert r.status_code == expect, r.text
        return r.json() if r.content else None

    def get(self, path: str, expect: int = 200, **kwargs: Any) -> Any:
        return self.call("GET", path, expect, **kwargs)

    def post(self, path: str, body: Any = None, expect: int = 200) -> Any:
        return self.call("POST", path, expect, json=body)

    def patch(self, path: str, body: Any, expect: int = 200) -> Any:
        return self.call("PATCH", path, expect, json=body)

    def put(self, path: str, body: Any, expect: int = 200) -> Any:
        return self.call("PUT", path, expect, json=body)

    def delete(self, path: str, expect: int = 204) -> Any:
        return self.call("DELETE", path, expect)

    def contact(self, name: str, **fields: Any) -> str:
        return str(self.post("/contacts", {"name": name, **fields}, 201)["id"])

    def tag(self, name: str, **fields: Any) -> str:
        return str(self.post("/tags", {"name": name, **fields}, 201)["id"])

    def group(self, name: str, exclusive: bool = False) -> str:
        return str(self.post("/tag-groups", {"name": name, "exclusive": exclusive}, 201)["id"])

    def tags_of(self, contact_id: str) -> list[str]:
        return sorted(h["tag"]["name"] for h in self.get(f"/contacts/{contact_id}/tags")["items"])

    def timeline(self, contact_id: str) -> list[tuple[str, str]]:
        items = self.get(
            f"/contacts/{contact_id}/timeline?type=tag_added&type=tag_removed&limit=200"
        )["items"]
        return sorted((e["type"], e["properties"]["tag"]) for e in items)
