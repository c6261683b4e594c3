"""ORM models: one file per table group. Import this package to register every table."""

from guanxi.models.auth import ApiKey, Membership, User, UserSession
from guanxi.models.base import Base
from guanxi.models.workspace import Department, Workspace

__all__ = ["ApiKey", "Base", "Department", "Membership", "User", "UserSession", "Workspace"]
