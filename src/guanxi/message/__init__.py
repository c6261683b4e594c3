"""Messages: templates and their rendering (the outbox lives here too)."""
