"""Contacts: one real person, whatever channels they use."""
