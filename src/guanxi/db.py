"""Engines and sessions. The request and job edges own the transaction; services only flush."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, cast

import psycopg
from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    ColumnElement,
    Engine,
    String,
    Table,
    any_,
    column,
    create_engine,
    event,
    false,
    func,
    literal,
    select,
    text,
)
from sqlalchemy import update as sa_update
from sqlalchemy import values as sa_values
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import QueryableAttribute, Session, sessionmaker


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver for both."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_first(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    """Open the transaction before a write the sqlite3 module does not recognise as one.

    In its (default) legacy mode the module begins a transaction only before a statement that
    *starts* with INSERT, UPDATE, DELETE or REPLACE: a write that starts with ``WITH`` (as
    ``update_rows`` does) ran in autocommit — committed at once, kept by a rollback, kept by a
    process killed before the commit — and a ``SAVEPOINT`` opening a transaction made its
    ``RELEASE`` the commit. A journey batch killed so left its enrolments finished with no steps
    and no messages. A savepoint's transaction begins IMMEDIATE: it may read before it writes,
    and a read snapshot that must later become a write fails at once ("database is locked",
    no busy wait) when another connection wrote in between. DDL is left as it was (migrations
    switch foreign keys off, which SQLite allows only outside a transaction)."""
    dbapi = cursor.connection
    if dbapi.in_transaction:
        return
    head = statement.lstrip()[:9].upper()
    if head.startswith("SAVEPOINT"):
        dbapi.execute("BEGIN IMMEDIATE")
    elif head.startswith("WITH") and (
        context is not None and (context.isinsert or context.isupdate or context.isdelete)
    ):
        dbapi.execute("BEGIN")  # the write follows at once: it waits for the lock as usual


def _refuse_nul(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    """PostgreSQL cannot store NUL in text (psycopg and the server refuse it with a
    ``DataError``, jsonb its ``\\u0000`` escape too) and SQLite can: on SQLite refuse it the
    same way (the HTTP edge answers 422 ``invalid_value``). Parameters come as a dict, a tuple,
    a list of either (executemany) or one flat tuple for a multi-row INSERT."""
    stack = [parameters]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise DataError(statement, None, ValueError("NUL character in text"))
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 10}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "before_cursor_execute", _refuse_nul)
        event.listen(engine, "before_cursor_execute", _begin_first)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("pool_size", 10)
        # psycopg prepares a statement run five times, and the server may then plan it once for
        # any parameters: an id list's size unknown, a table's size as it was, it took 0.5 s for
        # a lookup of a thousand scores a custom plan does in 8 ms. Never prepared, a statement
        # is planned for its own values each time. (Not ``plan_cache_mode=force_custom_plan``:
        # that also re-plans every foreign-key check, per row — 0.75 ms each when the keys were
        # written in the same transaction, 60× the check itself.)
        kwargs["connect_args"] = {"prepare_threshold": None, **kwargs.get("connect_args", {})}
        engine = create_engine(url, **kwargs)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=True)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block ends cleanly, roll back when it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def upsert_statement(session: Session, model: type[Any]) -> Any:
    """The dialect's INSERT for ``model``, which takes ``on_conflict_do_nothing`` and
    ``on_conflict_do_update`` (both PostgreSQL and SQLite have ON CONFLICT)."""
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert(model)
    return sqlite_insert(model)


def _jsonable(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a column value")


_rows_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_jsonable).encode


def _recordset(table: Table, names: Sequence[str]) -> Any:
    """``jsonb_to_recordset(:rows) AS r(name type, …)``: rows sent as one JSON document."""
    return (
        func.jsonb_to_recordset(text("CAST(:rows AS jsonb)"))
        .table_valued(*(column(n, table.c[n].type) for n in names))
        .render_derived(name="r", with_types=True)
    )


def upsert_rows(
    session: Session,
    model: type[Any],
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    update: Callable[[Any, Any], dict[str, Any]] | None = None,
    returning: str | None = None,
) -> list[Any]:
    """``INSERT … ON CONFLICT (keys) DO UPDATE SET update(columns, excluded)`` — or ``DO
    NOTHING`` without ``update`` — for many rows (with distinct keys) in one statement; returns
    the ``returning`` column of the rows written. On PostgreSQL the rows travel as one JSON
    document unpacked by ``jsonb_to_recordset``: an executemany costs a statement per row, and
    a thousand rows cost more in binding than in the server's work. SQLite: executemany of one
    compiled statement (its statements are function calls, not round trips)."""
    if not rows:
        return []
    table = cast(Table, model.__table__)
    names = list(rows[0])
    params: Any
    if session.get_bind().dialect.name == "postgresql":
        derived = _recordset(table, names)
        stmt: Any = pg_insert(table).from_select(names, select(*(derived.c[n] for n in names)))
        params = {"rows": _rows_json(list(rows))}
    else:
        stmt = sqlite_insert(table)
        params = list(rows)
    if update is None:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    else:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_=update(table.c, stmt.excluded)
        )
    if returning is not None:
        return list(session.scalars(stmt.returning(table.c[returning]), params))
    session.execute(stmt, params)
    return []


def update_rows(
    session: Session,
    model: type[Any],
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    where: Sequence[ColumnElement[bool]] = (),
) -> set[tuple[Any, ...]]:
    """Set each row's other columns where its ``keys`` match (and ``where`` holds: a fence),
    for many rows in one statement; returns the keys of the rows changed. Every row carries the
    columns of the first. PostgreSQL: ``UPDATE … FROM jsonb_to_recordset``, the rows as one
    JSON document (as ``upsert_rows``); SQLite: ``UPDATE … FROM`` a ``VALUES`` list in a
    ``WITH``."""
    if not rows:
        return set()
    table = cast(Table, model.__table__)
    names = list(rows[0])
    params: dict[str, Any] = {}
    if session.get_bind().dialect.name == "postgresql":
        given = _recordset(table, names)
        params = {"rows": _rows_json(list(rows))}
    else:
        given = (
            sa_values(*(column(n, table.c[n].type) for n in names), name="v")
            .data([tuple(r[n] for n in names) for r in rows])
            .cte("v")
        )
    stmt = (
        sa_update(table)
        .where(*(table.c[k] == given.c[k] for k in keys), *where)
        .values({n: given.c[n] for n in names if n not in keys})
        .returning(*(table.c[k] for k in keys))
    )
    return {tuple(r) for r in session.execute(stmt, params)}


def bulk_insert(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """Insert many rows of ``model`` fast, in the session's transaction: COPY on PostgreSQL, a
    multi-row INSERT on SQLite. Every row carries every column of the first row."""
    if not rows:
        return
    table = cast(Table, model.__table__)
    if session.get_bind().dialect.name != "postgresql":
        session.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    get = itemgetter(*columns)
    json_at = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, JSON)]
    connection = cast(psycopg.Connection[Any], session.connection().connection.dbapi_connection)
    names = ", ".join(f'"{c}"' for c in columns)
    statement = f"COPY {table.name} ({names}) FROM STDIN"
    try:
        _copy(connection, statement, rows, get, len(columns), json_at)
    except psycopg.errors.IntegrityError as exc:  # the same exceptions as an INSERT's
        raise IntegrityError(statement, None, exc) from exc
    except psycopg.errors.DataError as exc:  # a value the column cannot hold: 422 at the edge
        raise DataError(statement, None, exc) from exc


def _copy(
    connection: psycopg.Connection[Any],
    statement: str,
    rows: list[dict[str, Any]],
    get: Any,
    width: int,
    json_at: list[int],
) -> None:
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        if width == 1:
            for row in rows:
                copy.write_row((get(row),))
        elif not json_at:
            for row in rows:
                copy.write_row(get(row))
        else:
            for row in rows:
                values = list(get(row))
                for i in json_at:  # JSON text, which the server reads as json/jsonb
                    if values[i] is not None:
                        values[i] = _json(values[i])
                copy.write_row(values)


_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def in_list(
    session: Session, column: ColumnElement[Any] | QueryableAttribute[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """``column IN values`` for thousands of values. On PostgreSQL the values travel as one
    array (binding each value costs more than the query) compared with ``= ANY``: an index
    probe per value where the column leads an index, and where the planner scans instead, a
    hashed lookup per row — the array is a constant, as every statement is planned for its own
    parameters (statements are never prepared: ``make_engine``). An unnested semi-join instead
    was planned as a nested loop filtering rows × values whenever a table had no statistics yet
    (2 s, not 5 ms, for a thousand contacts' score points in a fresh workspace)."""
    items = list(values)
    if not items:
        return false()
    if session.get_bind().dialect.name == "postgresql":
        kind = BigInteger() if items and isinstance(items[0], int) else String()
        return column == any_(literal(items, ARRAY(kind)))
    return column.in_(items)


def analyze(session: Session, *tables: str) -> None:
    """Refresh the planner's statistics after a bulk load. Both dialects need them: without,
    SQLite picks the wrong one of two indexes that share a leading column (workspace_id)."""
    for table in tables:
        session.execute(text(f"ANALYZE {table}"))
