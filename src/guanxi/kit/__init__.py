"""Domain-free helpers: ids, time, secrets, pagination."""
