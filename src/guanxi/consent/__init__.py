"""Consent and suppression (M8): opt-in/out per contact and channel, suppression lists, the
unsubscribe links of every message and the preference centre they lead to."""
