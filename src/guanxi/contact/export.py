"""Exporting contacts (and accounts) as CSV: the list's filters, streamed page by page (memory
stays flat however many rows), custom fields as columns."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy.orm import Session, sessionmaker

from guanxi.account import service as accounts
from guanxi.auth.principal import Principal
from guanxi.contact import fields as custom_fields
from guanxi.contact import service as contacts
from guanxi.contact.schemas import STANDARD_FIELDS
from guanxi.db import transaction

PAGE = 2000
Lister = Callable[
    [Session, Principal, Mapping[str, Any], str | None], tuple[Sequence[Any], str | None]
]


@dataclass(frozen=True)
class Source:
    """What an export reads: the object (for its custom fields), the permission, the columns,
    the validated ones (safe as they are: E.164 phones lead with "+"), and a page of rows."""

    obj: str
    permission: str
    columns: tuple[str, ...]
    validated: frozenset[str]
    page: Lister


CONTACTS = Source(
    "contact",
    "contacts:read",
    ("id", *STANDARD_FIELDS, "created_at", "updated_at"),
    frozenset({"phone", "email"}),
    lambda s, actor, filters, cursor: contacts.list_contacts(
        s, actor, **filters, sort="created_at", limit=PAGE, cursor=cursor
    ),
)
ACCOUNTS = Source(
    "account",
    "accounts:read",
    (
        *("id", "name", "domain", "industry", "size", "revenue", "region", "tier"),
        *("owner_id", "created_at", "updated_at"),
    ),
    frozenset({"domain"}),
    lambda s, actor, filters, cursor: accounts.list_accounts(
        s, actor, **filters, sort="created_at", limit=PAGE, cursor=cursor
    ),
)


def csv_chunks(
    factory: sessionmaker[Session],
    actor: Principal,
    filters: Mapping[str, Any],
    source: Source = CONTACTS,
) -> Iterator[str]:
    """CSV text in chunks (UTF-8 with a BOM, so that Excel shows Chinese), one page at a time,
    each read in its own short transaction."""
    actor.require(source.permission)
    columns = source.columns
    with transaction(factory) as session:
        keys = sorted(custom_fields.definitions(session, actor.workspace_id, source.obj))
    buf = io.StringIO()
    csv.writer(buf).writerow([*columns, *(f"custom.{k}" for k in keys)])
    header = "\ufeff" + buf.getvalue()  # sent with the first page, once its filters are checked
    cursor: str | None = None
    while True:
        with transaction(factory) as session:
            rows, cursor = source.page(session, actor, filters, cursor)
            buf = io.StringIO()
            writer = csv.writer(buf)
            for row in rows:
                c = row[0]
                values = [getattr(c, name) for name in columns]
                values = [
                    v if n in source.validated or not isinstance(v, str) else _safe(v)
                    for n, v in zip(columns, values, strict=True)
                ]
                custom = c.custom or {}
                writer.writerow(
                    [
                        *("" if v is None else v for v in values),
                        *(cell(custom.get(k)) for k in keys),
                    ]
                )
        yield header + buf.getvalue()
        header = ""
        if cursor is None:
            return


def write_file(
    factory: sessionmaker[Session],
    actor: Principal,
    filters: Mapping[str, Any],
    path: Path,
    fmt: str,
    progress: Callable[[int], bool],
) -> int:
    """Write the export to ``path`` (CSV, or XLSX in openpyxl's streaming write-only mode);
    ``progress(rows)`` after each page returns True to stop. Returns the rows written."""
    written = 0
    chunks = csv_chunks(factory, actor, filters)
    if fmt == "csv":
        with path.open("w", encoding="utf-8", newline="") as out:
            for chunk in chunks:
                out.write(chunk)
                written += chunk.count("\n")
                if progress(written):
                    return written
        return written - 1
    book = Workbook(write_only=True)
    sheet = book.create_sheet("contacts")
    for chunk in chunks:
        for row in csv.reader(io.StringIO(chunk.lstrip("\ufeff"))):
            sheet.append(row)
            written += 1
        if progress(written):
            break
    book.save(path)
    return written - 1


_CONTROL = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


def cell(value: Any) -> str:
    """A value as a safe CSV cell."""
    if value is None:
        return ""
    text = ";".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return _safe(text)


def _safe(text: str) -> str:
    """No spreadsheet formula from a value (``=``, ``+``, ``-``, ``@`` lead), no control
    characters Excel refuses."""
    text = text.translate(_CONTROL)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
