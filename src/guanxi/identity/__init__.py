"""Identities and identity resolution: one person, one profile (一人一档)."""
