"""Keep the zh-CN catalogue in step with the source: extract every marked string, merge.

``python -m guanxi.i18n_catalog update`` adds new strings (untranslated) to the ``.po`` file and
drops vanished ones; ``check`` lists strings that have no translation (the test suite fails on
any). Strings are marked with ``N_``/``gettext`` in Python and ``_()`` in templates.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from guanxi.i18n import LOCALE_DIR

SOURCE = Path(__file__).parent
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
KEYWORDS = {"N_": None, "_": None, "gettext": None, "ngettext": (1, 2)}
PO = LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po"


def extracted() -> Catalog:
    template = Catalog(project="guanxi", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        SOURCE,
        METHODS,
        keywords=KEYWORDS,
        options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}},
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def load() -> Catalog:
    with PO.open("rb") as fh:
        return read_po(fh, locale="zh_CN")


def update() -> Catalog:
    template = extracted()
    if PO.exists():
        catalog = load()
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
    else:
        catalog = Catalog(locale="zh_CN", project="guanxi", fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True)
    PO.parent.mkdir(parents=True, exist_ok=True)
    with PO.open("wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False, sort_output=True)
    return catalog


def missing() -> list[str]:
    """Marked strings without a zh-CN translation."""
    catalog = load() if PO.exists() else Catalog(locale="zh_CN")
    out = []
    for message in extracted():
        if not message.id:
            continue
        found = catalog.get(message.id, context=message.context)
        text = found.string if found else None
        ok = all(text) if isinstance(text, tuple | list) else bool(text)
        if not ok:
            out.append(message.id if isinstance(message.id, str) else message.id[0])
    return out


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "update":
        update()
    todo = missing()
    for text in todo:
        print(f"untranslated: {text!r}")
    sys.exit(1 if todo and command == "check" else 0)


if __name__ == "__main__":
    main()
