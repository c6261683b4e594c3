"""Scoring: models, engagement and fit rules, decay, combined scores, grades, account roll-ups."""
