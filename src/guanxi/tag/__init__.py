"""Tags: groups, typed and scoped tags, manual and bulk tagging, and auto-tag rules."""
