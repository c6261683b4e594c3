"""Languages: zh-CN and en, from Babel ``.po`` catalogues compiled in memory at start-up.

Source strings are English; ``locale/zh_CN/LC_MESSAGES/messages.po`` holds the Chinese. A test
extracts every marked string from the code and templates and fails when one lacks a translation.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

Language = Literal["zh_CN", "en"]
LANGUAGES: tuple[Language, ...] = ("zh_CN", "en")
LANGUAGE_NAMES: dict[Language, str] = {"zh_CN": "中文", "en": "English"}
LOCALE_DIR = Path(__file__).parent / "locale"

current_language: ContextVar[Language] = ContextVar("current_language", default="zh_CN")


def N_(text: str) -> str:
    """Mark ``text`` for translation without translating it now (translated when shown)."""
    return text


class Message:
    """Text for a person, translated when shown: an ``N_`` template and its parameters, which
    may be Messages themselves. ``str()`` is the English text (for logs)."""

    __slots__ = ("params", "template")

    def __init__(self, template: str, **params: Any) -> None:
        self.template, self.params = template, params

    def render(self, language: Language | None = None) -> str:
        params = {
            k: v.render(language) if isinstance(v, Message) else v for k, v in self.params.items()
        }
        text = gettext(self.template, language)
        return text.format(**params) if params else text

    def __str__(self) -> str:
        return self.render("en")


@lru_cache
def translations(language: Language) -> Translations:
    po = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return Translations()  # English: the source strings are the text
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def gettext(text: str, language: Language | None = None) -> str:
    return translations(language or current_language.get()).gettext(text)


def ngettext(singular: str, plural: str, n: int, language: Language | None = None) -> str:
    return translations(language or current_language.get()).ngettext(singular, plural, n)


def parse_language(value: str | None) -> Language | None:
    """Map ``zh-CN``, ``zh_cn``, ``zh`` and ``en-US`` style tags to a supported language."""
    if not value:
        return None
    tag = value.strip().replace("-", "_").lower()
    if tag.startswith("zh"):
        return "zh_CN"
    if tag.startswith("en"):
        return "en"
    return None


def negotiate(accept_language: str | None, default: Language) -> Language:
    """Pick a language from an ``Accept-Language`` header, honouring its q-values."""
    if not accept_language:
        return default
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept_language.split(",")):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        ranked.append((-weight, i, tag))
    for _, _, tag in sorted(ranked):
        found = parse_language(tag)
        if found:
            return found
    return default
