"""Workspaces (tenants), departments and members."""
