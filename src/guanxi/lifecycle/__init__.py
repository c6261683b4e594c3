"""Lifecycle: configurable stages, entry rules, manual and backward moves, stage history."""
