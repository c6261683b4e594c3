"""Email over SMTP: MIME building, the SMTP connector and bounce (DSN/ARF) parsing."""
