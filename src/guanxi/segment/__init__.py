"""Segments and the one condition language (S5) that segments, tag rules, scoring filters,
journey branches and assignment rules share."""
