"""Roles, permissions and data scopes: pure tables, no I/O.

A permission is ``"<area>:<action>"`` (``users:write``). A role grants a set of permissions; an
API key is limited further to its scopes (same strings, ``*`` for all the owner's role allows).
A data scope says which owned records a member sees: ``own`` (theirs), ``team`` (their
department and the departments under it) or ``all``. Later modules add their areas here.
"""

from __future__ import annotations

from enum import StrEnum

from guanxi.i18n import N_


class Role(StrEnum):
    admin = "admin"
    marketer = "marketer"
    sdr = "sdr"
    sales = "sales"
    cs = "cs"
    viewer = "viewer"


class DataScope(StrEnum):
    own = "own"
    team = "team"
    all = "all"


ROLE_LABELS: dict[Role, str] = {
    Role.admin: N_("Administrator"),
    Role.marketer: N_("Marketer"),
    Role.sdr: N_("SDR"),
    Role.sales: N_("Sales rep"),
    Role.cs: N_("Customer success"),
    Role.viewer: N_("Viewer"),
}

SCOPE_LABELS: dict[DataScope, str] = {
    DataScope.own: N_("Own records"),
    DataScope.team: N_("Team records"),
    DataScope.all: N_("All records"),
}

DEFAULT_DATA_SCOPE: dict[Role, DataScope] = {
    Role.admin: DataScope.all,
    Role.marketer: DataScope.all,
    Role.sdr: DataScope.team,
    Role.sales: DataScope.own,
    Role.cs: DataScope.team,
    Role.viewer: DataScope.all,
}

AREAS: tuple[str, ...] = (
    "workspace",
    "departments",
    "users",
    "api_keys",
    "fields",
    "contacts",
    "accounts",
    "events",
    "tags",
    "scoring",
    "lifecycle",
    "stages",
    "segments",
    "journeys",
    "templates",
    "messages",
    "channels",
    "webhooks",
)
PERMISSIONS: frozenset[str] = frozenset(f"{a}:{x}" for a in AREAS for x in ("read", "write"))

_READ_ALL = frozenset(p for p in PERMISSIONS if p.endswith(":read"))

# Every member may hold personal API keys for their own integrations and work on the customer
# data their scope shows them (tagging it, moving it between lifecycle stages: ``stages:write``),
# except viewers, who write nothing. Marketers also shape tags and tag rules, scoring models,
# the lifecycle's stages, segments, journeys, message templates and sends (suppression lists
# too: ``messages:write``). Custom field definitions, channel accounts (credentials), webhooks and
# the workspace itself are the administrators'.
_MEMBER = _READ_ALL | {
    "api_keys:write",
    "contacts:write",
    "accounts:write",
    "events:write",
    "stages:write",
}
_MARKETER = _MEMBER | {
    "tags:write",
    "scoring:write",
    "lifecycle:write",
    "segments:write",
    "journeys:write",
    "templates:write",
    "messages:write",
}

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.admin: PERMISSIONS,
    Role.marketer: _MARKETER,
    Role.sdr: _MEMBER,
    Role.sales: _MEMBER,
    Role.cs: _MEMBER,
    Role.viewer: _READ_ALL,
}


def role_allows(role: Role, permission: str) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def scopes_allow(scopes: frozenset[str] | None, permission: str) -> bool:
    """``None`` means a session (no key scopes to narrow the role)."""
    return scopes is None or "*" in scopes or permission in scopes


def valid_scope(scope: str) -> bool:
    return scope == "*" or scope in PERMISSIONS
