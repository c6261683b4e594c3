"""Sign-in, sessions, API keys, roles and data scopes."""
