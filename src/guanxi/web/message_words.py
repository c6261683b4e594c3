"""Messaging in words: the channels, message and broadcast statuses, and why a message was
skipped, deferred or failed (the outbox's stable ``reason`` codes), translated when shown."""

from __future__ import annotations

from typing import Any

from guanxi.consent.service import CHANNEL_LABELS
from guanxi.i18n import N_
from guanxi.message.accounts import CHANNELS as MESSAGE_CHANNELS

CHANNELS = {c: CHANNEL_LABELS[c] for c in MESSAGE_CHANNELS}

MESSAGE_STATUSES = {
    "queued": N_("Queued"),
    "sending": N_("Sending"),
    "sent": N_("Sent"),
    "skipped": N_("Skipped"),
    "failed": N_("Failed"),
    "cancelled": N_("Cancelled"),
}

# the send-time checks (message/gate.py, consent), composing (compose.py), the dispatcher and
# the connectors' PermanentSendError codes
REASONS = {
    "opted_out": N_("The contact opted out of marketing on this channel."),
    "no_opt_in": N_("This channel needs an opt-in, and the contact has not given one."),
    "suppressed": N_("The address is on the suppression list."),
    "no_address": N_("The contact has no address on this channel."),
    "no_contact": N_("The contact no longer exists."),
    "frequency_cap": N_("The contact already had as many marketing messages as the caps allow."),
    "quiet_hours": N_("Waiting for the quiet hours to end."),
    "template_error": N_("The template failed while it was filled in."),
    "template_missing": N_("The template was deleted."),
    "no_channel_account": N_("No enabled channel account sends on this channel."),
    "retries_exhausted": N_("The provider kept failing: every retry was used."),
    "smtp_5xx": N_("The mail server refused the message."),
    "sandbox_rejected": N_("The sandbox refused the message."),
    "invalid_address": N_("The provider refused the address."),
    "invalid_message": N_("The provider refused the message as malformed."),
    "cancelled": N_("Cancelled by a member."),
    "channel_account_unusable": N_(
        "The channel account cannot be used (its settings could not be read): fix or replace it."
    ),
    "too_many_attempts": N_(
        "Its dispatcher stopped while sending it too many times: it may be what stops them, "
        "so it is not tried again."
    ),
}

OUTCOMES = {"sent": N_("Sent"), "retry": N_("Will be tried again"), "failed": N_("Failed")}

BROADCAST_STATUSES = {
    "draft": N_("Draft"),
    "sending": N_("Sending"),
    "sent": N_("Sent"),
    "cancelled": N_("Cancelled"),
}


def words() -> dict[str, Any]:
    """What every messaging template is rendered with."""
    return {
        "channel_labels": CHANNELS,
        "message_statuses": MESSAGE_STATUSES,
        "reasons": REASONS,
        "outcomes": OUTCOMES,
        "broadcast_statuses": BROADCAST_STATUSES,
    }
