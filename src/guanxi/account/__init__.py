"""Accounts (companies) and the contacts that work there, with their roles and org chart."""
