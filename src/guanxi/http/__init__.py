"""HTTP edge shared by the API and the console: transactions, authentication, errors, telemetry."""
