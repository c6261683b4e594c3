"""Schemathesis over the whole OpenAPI document: no 5xx, no undocumented status, no response
that breaks its declared schema — as an administrator, on both databases."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import Tenant, make_tenant

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_tenant(app: FastAPI) -> Tenant:
    tenant = make_tenant(app, "Fuzz")
    tenant.department("Fuzz team")
    return tenant


@pytest.fixture(scope="module")
def api_schema(app: FastAPI, fuzz_tenant: Tenant) -> schemathesis.schemas.BaseSchema:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    # Schema examples and random cases, not the "coverage" phase: it enumerates the values
    # around every branch of a schema, and the condition language is a recursive union of
    # eleven kinds — it ran for hours on the segment, tag-rule and scoring-rule operations.
    schema.config.phases.update(phases=["examples", "fuzzing"])
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_document(case: schemathesis.Case, fuzz_tenant: Tenant) -> None:
    case.call_and_validate(headers=fuzz_tenant.admin.auth, checks=CHECKS)
