"""Forms (E5): definitions, the hosted page and embed, submissions that resolve contacts."""
