"""Who is acting: a member of one workspace, through a session or an API key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from guanxi.auth.permissions import DataScope, Role, role_allows, scopes_allow
from guanxi.errors import Forbidden, InsufficientScope
from guanxi.i18n import N_


@dataclass(frozen=True)
class Principal:
    user_id: int
    workspace_id: int
    role: Role
    data_scope: DataScope
    department_id: int | None
    via: Literal["session", "api_key"]
    scopes: frozenset[str] | None = None  # an API key's scopes; None for a session
    api_key_id: int | None = None

    def can(self, permission: str) -> bool:
        return role_allows(self.role, permission) and scopes_allow(self.scopes, permission)

    def require(self, permission: str) -> None:
        """Refuse with 403: ``forbidden`` when the role lacks it, else ``insufficient_scope``."""
        if not role_allows(self.role, permission):
            raise Forbidden()
        if not scopes_allow(self.scopes, permission):
            raise InsufficientScope(scope=permission)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin


class WholeWorkspaceNeeded(Forbidden):
    """Work across every contact of the workspace (identify, ingestion) needs data scope all."""

    code = "data_scope_all_required"
    message = N_("Identify resolves across the whole workspace: it needs a data scope of all.")
