"""Journeys (旅程): a graph of steps each contact walks through on its own, durably — the
definition as data (``graph``), the pure engine that moves one enrolment (``engine``) and the
dry run of one contact on a simulated clock (``simulate``)."""
