"""Background work: scheduled housekeeping now; claimed job rows as later modules add them."""
