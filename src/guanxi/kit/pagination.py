"""Keyset (cursor) pagination and sorting for every list endpoint.

Lists answer ``{"items": [...], "next_cursor": str | null}``. ``sort`` names one allowed field,
``-field`` for descending; the id breaks ties, so the order is total and a cursor (the last row's
sort value and id, opaque to clients) resumes exactly after the last row seen, however rows are
inserted meanwhile. Never OFFSET: the cost of a page does not grow with its depth.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Row, Select, literal, tuple_
from sqlalchemy.orm import QueryableAttribute, Session

from guanxi.errors import InvalidCursor, InvalidSort
from guanxi.kit.ids import MAX_ID

Sortable = ColumnElement[Any] | QueryableAttribute[Any]


@dataclass(frozen=True)
class SortSpec:
    fields: Mapping[str, Sortable]
    tiebreak: Sortable
    default: str

    def parse(self, sort: str | None) -> tuple[str, bool]:
        sort = sort or self.default
        name, descending = (sort[1:], True) if sort.startswith("-") else (sort, False)
        if name not in self.fields:
            raise InvalidSort(field=name, allowed=", ".join(sorted(self.fields)))
        return name, descending


def _encode(sort: str, value: Any, row_id: int) -> str:
    if isinstance(value, datetime):
        payload = [sort, "dt", value.isoformat(), row_id]
    else:
        payload = [sort, "v", value, row_id]
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _decode(cursor: str, sort: str, column: Sortable) -> tuple[Any, int]:
    """The cursor's sort value and id, checked against the column: a cursor edited by hand is
    refused with 400, never passed to the database."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, kind, value, row_id = json.loads(raw)
        if name != sort or type(row_id) is not int or not 0 < row_id <= MAX_ID:
            raise ValueError("cursor made for another list")
        expected = column.type.python_type
        if kind == "dt" and expected is datetime and isinstance(value, str):
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                raise ValueError("naive time in cursor")
        elif kind != "v" or type(value) is not expected or expected is datetime:
            raise ValueError("cursor value of the wrong type")
        if type(value) is int and not -MAX_ID <= value <= MAX_ID:
            raise ValueError("cursor value out of range")
        return value, row_id
    except (ValueError, TypeError, OverflowError, binascii.Error, NotImplementedError) as exc:
        raise InvalidCursor() from exc


def paginate(
    session: Session,
    stmt: Select[*tuple[Any, ...]],
    spec: SortSpec,
    *,
    sort: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Row[Any]], str | None]:
    """Run ``stmt`` for one page. Rows keep their entities; the sort key rides as ``_sort``."""
    name, descending = spec.parse(sort)
    column = spec.fields[name]
    stmt = stmt.add_columns(column.label("_sort"), spec.tiebreak.label("_id"))
    if cursor:
        value, row_id = _decode(cursor, sort or spec.default, column)
        key = tuple_(column, spec.tiebreak)
        after = tuple_(literal(value, column.type), literal(row_id, BigInteger()))
        stmt = stmt.where(key < after if descending else key > after)
    if descending:
        stmt = stmt.order_by(column.desc(), spec.tiebreak.desc())
    else:
        stmt = stmt.order_by(column.asc(), spec.tiebreak.asc())
    rows = session.execute(stmt.limit(limit + 1)).all()
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], _encode(sort or spec.default, last._sort, last._id)
