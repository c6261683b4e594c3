"""Message templates: Jinja2 in a sandbox, compiled once per template version, rendered per
recipient fast.

Templates are written by marketers, so they run in Jinja's ``SandboxedEnvironment`` and a
missing value never fails a send: ``{{ contact.city }}`` of a contact without a city (or with
``None``) renders ``""``, chains such as ``{{ contact.custom.level.name }}`` too, and ``default``
also replaces ``None`` and ``""`` (``{{ contact.first_name | default("朋友") }}``).

The expensive steps happen once, in :func:`compile_template` (cached by source):

- CSS from ``<style>`` blocks is inlined into ``style`` attributes (mail clients drop
  ``<style>``) with ``css_inline`` on the *template source*: each Jinja construct is swapped for a
  placeholder the HTML parser keeps in place (a private-use character run in text and attribute
  values, an HTML comment for ``{% %}`` between elements, which a table would otherwise push out
  of place), inlined, then swapped back. When that cannot be proven safe (a construct where an
  attribute name goes, a placeholder lost or moved), the template is inlined after each render
  instead: slower, never wrong.
- Without a text part, one is derived from the HTML, Jinja constructs kept, as its own template.

Per recipient, :func:`render` runs the compiled templates, then, with :class:`Tracking`,
rewrites http(s) links in the HTML to the click URL (not the unsubscribe and preferences links)
and adds the open pixel: a regular expression over the output, no parse.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

import css_inline
from jinja2 import ChainableUndefined, Template, TemplateSyntaxError, Undefined
from jinja2.sandbox import SandboxedEnvironment

from guanxi.i18n import N_, Message

_PARTS = {"subject": N_("subject"), "html": N_("HTML body"), "text": N_("text body")}


class TemplateError(ValueError):
    """A template that does not compile (``line`` set) or failed while rendering."""

    def __init__(self, part: str, detail: str, line: int | None = None) -> None:
        self.part, self.detail, self.line = part, detail, line
        where = Message(_PARTS.get(part, part))
        if line is None:
            self.message = Message(
                N_("Template error in the {part}: {detail}"), part=where, detail=detail
            )
        else:
            self.message = Message(
                N_("Template error in the {part}, line {line}: {detail}"),
                part=where,
                line=line,
                detail=detail,
            )
        super().__init__(str(self.message))


@dataclass(frozen=True, slots=True)
class Tracking:
    """``open_url``: the pixel's address; ``click_url(target)``: the tracked address of a link."""

    open_url: str
    click_url: Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    html: str | None
    text: str | None


@dataclass(frozen=True, slots=True, eq=False)
class Compiled:
    subject: Template
    html: Template | None
    text: Template | None
    inline_at_render: bool = False  # CSS could not be inlined into the source
    text_at_render: bool = False  # the text part could not be derived from the source
    text_derived: bool = False  # the text part was derived from the HTML: tidy its blank lines


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja's ``default``, also for ``None`` and ``""``: what a missing field holds here."""
    if isinstance(value, Undefined) or value is None or (isinstance(value, str) and not value):
        return default_value
    return default_value if boolean and not value else value


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        autoescape=autoescape,
        undefined=ChainableUndefined,
        finalize=_finalize,
        keep_trailing_newline=True,
    )
    env.filters["default"] = env.filters["d"] = _default
    return env


_HTML_ENV = _environment(autoescape=True)
_TEXT_ENV = _environment(autoescape=False)
_INLINER = css_inline.CSSInliner(
    keep_style_tags=False,
    keep_at_rules=True,  # @media queries stay in a <style>: they cannot be inlined
    keep_link_tags=True,
    load_remote_stylesheets=False,  # a template must not make the server fetch URLs
)

_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_OPEN, _CLOSE = "\ue000", "\ue001"
_MARK = re.compile(f"<!--{_OPEN}(\\d+){_CLOSE}-->|{_OPEN}(\\d+){_CLOSE}")
_BARE = re.compile(f"{_OPEN}(\\d+){_CLOSE}")
# comments, raw-text elements and tags: placeholders inside them stay bare
_REGIONS = re.compile(
    r"""<!--.*?-->|<(style|script|title|textarea)\b.*?</\1\s*>|<[A-Za-z](?:[^>"']|"[^"]*"|'[^']*')*>""",
    re.S | re.I,
)
_ATTR_VALUE = re.compile(r"""=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+)""")
_HAS_CSS = re.compile(r"<style\b", re.I)
_HREF = re.compile(
    r"""(<(?:a|area)\b(?:[^>"']|"[^"]*"|'[^']*')*?\shref\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""",
    re.I,
)


def _compile(env: SandboxedEnvironment, source: str, part: str) -> Template:
    try:
        return env.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(part, exc.message or str(exc), exc.lineno) from exc


@lru_cache(maxsize=128)
def compile_template(subject: str, html: str | None, text: str | None = None) -> Compiled:
    """Compile a template version once (cached by source). Raises :class:`TemplateError`."""
    if html is None and text is None:
        raise TemplateError("html", "a template needs an HTML or a text body")
    subject_t = _compile(_TEXT_ENV, subject, "subject")
    html_t = text_t = None
    inline_at_render = text_at_render = False
    if html is not None:
        html_t = _compile(_HTML_ENV, html, "html")  # errors with the author's line numbers
        inlined = _inline_source(html)
        if inlined is None:
            inline_at_render = True
        elif inlined != html:
            html_t = _compile(_HTML_ENV, inlined, "html")
    if text is not None:
        text_t = _compile(_TEXT_ENV, text, "text")
    elif html is not None:
        text_t = _text_template(html)
        text_at_render = text_t is None
    derived = text is None and html is not None
    return Compiled(subject_t, html_t, text_t, inline_at_render, text_at_render, derived)


def _placeholders(source: str) -> tuple[str, list[str]]:
    constructs: list[str] = []

    def swap(match: re.Match[str]) -> str:
        constructs.append(match.group(0))
        return f"{_OPEN}{len(constructs) - 1}{_CLOSE}"

    return _JINJA.sub(swap, source), constructs


def _inline_source(source: str) -> str | None:
    """``source`` with its CSS inlined and its Jinja intact; ``source`` itself when there is no
    CSS to inline; None when inlining ahead would not be safe."""
    if not _HAS_CSS.search(source):
        return source
    neutral, constructs = _placeholders(source)
    commented: set[int] = set()

    def in_text(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if constructs[index].startswith("{{"):
            return match.group(0)
        commented.add(index)
        return f"<!--{match.group(0)}-->"

    pieces, last = [], 0
    for region in _REGIONS.finditer(neutral):
        pieces.append(_BARE.sub(in_text, neutral[last : region.start()]))
        tag = region.group(0)
        opening = tag.partition(">")[0] if region.group(1) else tag
        if not tag.startswith("<!--") and _OPEN in _ATTR_VALUE.sub("", opening):
            return None  # a construct where an attribute name goes: inlining reorders those
        pieces.append(tag)
        last = region.end()
    pieces.append(_BARE.sub(in_text, neutral[last:]))
    inlined = _INLINER.inline("".join(pieces))

    seen: list[int] = []

    def restore(match: re.Match[str]) -> str:
        index = int(match.group(1) or match.group(2))
        if (match.group(1) is not None) != (index in commented) or index >= len(constructs):
            seen.append(-1)
            return ""
        seen.append(index)
        return constructs[index]

    restored = _MARK.sub(restore, inlined)
    if seen != list(range(len(constructs))) or _OPEN in restored or _CLOSE in restored:
        return None
    try:
        _HTML_ENV.parse(restored)
    except TemplateSyntaxError:
        return None
    return restored


class _TextMaker(HTMLParser):
    """HTML to readable plain text: blocks on their own lines, links as ``label (url)``."""

    _SKIP = frozenset({"head", "style", "script", "title", "template"})
    _PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "hr"})
    _LINE = frozenset(
        {"div", "tr", "ul", "ol", "section", "article", "header", "footer", "center", "dl"}
        | {"dt", "dd", "pre", "form", "address", "main", "nav", "aside", "figure"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.link: tuple[str, int] | None = None  # href, where its label starts in out

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.skip = 0
        elif tag in self._SKIP:
            self.skip += 1
        elif tag in self._PARAGRAPH:
            self.out.append("\n\n")
        elif tag in self._LINE or tag == "br":
            self.out.append("\n")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in ("td", "th"):
            self.out.append(" ")
        elif tag == "a":
            self.link = (dict(attrs).get("href") or "", len(self.out))
        elif tag == "img" and self.link is not None:
            self.out.append(dict(attrs).get("alt") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skip = max(self.skip - 1, 0)
        elif tag in self._PARAGRAPH:
            self.out.append("\n\n")
        elif tag in self._LINE:
            self.out.append("\n")
        elif tag == "a" and self.link is not None:
            href, start = self.link
            self.link = None
            href = href.strip()
            label = " ".join("".join(self.out[start:]).split())
            if href.lower().startswith(("http://", "https://")) or _OPEN in href:
                if not label:
                    self.out.append(href)
                elif label != href:
                    self.out.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(re.sub(r"\s+", " ", data))

    def handle_comment(self, data: str) -> None:
        self.out.extend(m.group(0) for m in _BARE.finditer(data))  # Jinja in a comment

    def text(self) -> str:
        self.close()
        return _tidy(re.sub(r" {2,}", " ", "".join(self.out)))


def _tidy(text: str) -> str:
    """Lines trimmed, at most one blank line in a row (block tags and loops leave more)."""
    text = "\n".join([line.strip(" \t") for line in text.split("\n")])
    while "\n\n\n" in text:  # str methods: a regular expression here costs ~10x more
        text = text.replace("\n\n\n\n", "\n\n").replace("\n\n\n", "\n\n")
    return text.strip() + "\n"


def html_to_text(html: str) -> str:
    maker = _TextMaker()
    maker.feed(html)
    return maker.text()


def _text_template(html: str) -> Template | None:
    neutral, constructs = _placeholders(html)
    text = _BARE.sub(lambda m: constructs[int(m.group(1))], html_to_text(neutral))
    try:
        return _TEXT_ENV.from_string(text)
    except TemplateSyntaxError:
        return None


def variables(
    *,
    contact: Mapping[str, Any] | None = None,
    account: Mapping[str, Any] | None = None,
    sender: Mapping[str, Any] | None = None,
    unsubscribe_url: str = "",
    preferences_url: str = "",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The variables a template sees. ``contact`` holds the standard fields and ``custom`` (a
    dict, always present); ``account`` the first account's fields; ``sender`` the owner's
    ``name`` and ``email``. ``extra`` adds names but cannot replace these."""
    person = dict(contact or {})
    person["custom"] = dict(person.get("custom") or {})
    return {
        **(extra or {}),
        "contact": person,
        "account": dict(account or {}),
        "sender": dict(sender or {}),
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url,
    }


def _run(template: Template, values: Mapping[str, Any], part: str) -> str:
    try:
        return template.render(values)
    except Exception as exc:  # a template is the marketer's code: any failure is its own
        raise TemplateError(part, str(exc)) from exc


def render(
    compiled: Compiled, values: Mapping[str, Any], tracking: Tracking | None = None
) -> Rendered:
    """One recipient's subject, HTML and text. Raises :class:`TemplateError` only for a
    template that fails at run time (a division by zero), never for a missing value."""
    subject = " ".join(_run(compiled.subject, values, "subject").split())
    html = _run(compiled.html, values, "html") if compiled.html is not None else None
    text = _run(compiled.text, values, "text") if compiled.text is not None else None
    if text is not None and compiled.text_derived:
        text = _tidy(text)
    if html is not None:
        if compiled.inline_at_render:
            html = _INLINER.inline(html)
        if compiled.text_at_render:
            text = html_to_text(html)
        if tracking is not None:
            own = {str(values.get(k) or "") for k in ("unsubscribe_url", "preferences_url")}
            html = track(html, tracking, own - {""})
    return Rendered(subject, html, text)


def track(html: str, tracking: Tracking, skip: set[str] | frozenset[str] = frozenset()) -> str:
    """Every http(s) link through ``tracking.click_url`` (except those in ``skip``), and the
    open pixel before ``</body>`` (or at the end)."""

    def link(match: re.Match[str]) -> str:
        value = next(g for g in match.groups()[1:] if g is not None)
        url = html_lib.unescape(value).strip()
        if not url.lower().startswith(("http://", "https://")) or url in skip:
            return match.group(0)
        return f'{match.group(1)}"{html_lib.escape(tracking.click_url(url))}"'

    html = _HREF.sub(link, html)
    pixel = (
        f'<img src="{html_lib.escape(tracking.open_url)}" width="1" height="1" alt="" '
        'style="display:none">'
    )
    at = html.rfind("</body")
    if at < 0:
        at = html.lower().rfind("</body")
    return html[:at] + pixel + html[at:] if at >= 0 else html + pixel
