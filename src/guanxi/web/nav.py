"""The console's navigation: every module, with the screens that exist so far."""

from __future__ import annotations

from dataclasses import dataclass

from guanxi.i18n import N_


@dataclass(frozen=True)
class Screen:
    """A screen of a module, listed under it while the module is open."""

    label: str
    href: str
    permission: str


@dataclass(frozen=True)
class Module:
    key: str
    label: str
    hint: str
    href: str | None  # None until the module has a screen
    permission: str | None = None
    screens: tuple[Screen, ...] = ()


MODULES: tuple[Module, ...] = (
    Module("home", N_("Home"), N_("Overview of the workspace"), "/app"),
    Module(
        "contacts",
        N_("Contacts"),
        N_("People, identities and the 360° view"),
        "/app/contacts",
        "contacts:read",
    ),
    Module(
        "accounts",
        N_("Accounts"),
        N_("Companies and buying committees"),
        "/app/accounts",
        "accounts:read",
    ),
    Module(
        "events",
        N_("Events"),
        N_("Tracking, forms and the event stream"),
        "/app/events",
        "events:read",
    ),
    Module(
        "segments",
        N_("Segments"),
        N_("Tags, scores, lifecycle and segments"),
        "/app/segments",
        "segments:read",
        screens=(
            Screen(N_("Segments"), "/app/segments", "segments:read"),
            Screen(N_("Tags"), "/app/tags", "tags:read"),
            Screen(N_("Scoring"), "/app/scoring", "scoring:read"),
            Screen(N_("Lifecycle"), "/app/lifecycle", "lifecycle:read"),
        ),
    ),
    Module(
        "journeys",
        N_("Journeys"),
        N_("Automation across channels"),
        "/app/journeys",
        "journeys:read",
    ),
    Module(
        "channels",
        N_("Channels"),
        N_("WeChat, WeCom, email, SMS, WhatsApp"),
        "/app/messages",
        "messages:read",
        screens=(
            Screen(N_("Messages"), "/app/messages", "messages:read"),
            Screen(N_("Templates"), "/app/templates", "templates:read"),
            Screen(N_("Broadcasts"), "/app/broadcasts", "messages:read"),
            Screen(N_("Suppression lists"), "/app/suppressions", "messages:read"),
            Screen(N_("Channel settings"), "/app/settings/channels", "channels:read"),
        ),
    ),
    Module("content", N_("Content"), N_("Content, forms and campaigns"), None),
    Module("sales", N_("Sales"), N_("Assignment, public pool and opportunities"), None),
    Module("analytics", N_("Analytics"), N_("Funnels, attribution and ROI"), None),
    Module(
        "settings",
        N_("Settings"),
        N_("Members, departments and API keys"),
        "/app/settings/users",
        "users:read",
    ),
)
