"""The bulk write helpers of ``guanxi.db``, on both databases: many rows in one statement,
conflicts and fences honoured, and values the columns cannot take refused."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.exc import DataError, StatementError

from guanxi.db import transaction, update_rows, upsert_rows
from guanxi.kit.clock import utcnow
from guanxi.models import JourneyWake, Tag
from tests.factories import make_tenant


def _rows(ws: int, at: datetime, contacts: range) -> list[dict[str, object]]:
    return [{"workspace_id": ws, "journey_id": 1, "contact_id": c, "at": at} for c in contacts]


def _stored(app: FastAPI, ws: int) -> dict[int, datetime]:
    with transaction(app.state.sessionmaker) as s:
        rows = s.execute(
            select(JourneyWake.contact_id, JourneyWake.at).where(JourneyWake.workspace_id == ws)
        )
        return {r.contact_id: r.at for r in rows}


KEY = ["workspace_id", "journey_id", "contact_id"]


def test_upsert_rows_inserts_the_new_keys_and_updates_or_keeps_the_others(app: FastAPI) -> None:
    ws = make_tenant(app).workspace_id
    t0 = utcnow().replace(microsecond=123456)
    t1 = t0 + timedelta(hours=1)
    factory = app.state.sessionmaker
    with transaction(factory) as s:
        new = upsert_rows(s, JourneyWake, _rows(ws, t0, range(1, 4)), KEY, returning="contact_id")
    assert sorted(new) == [1, 2, 3]
    with transaction(factory) as s:  # do nothing on conflict: only the new key is written
        new = upsert_rows(s, JourneyWake, _rows(ws, t1, range(3, 5)), KEY, returning="contact_id")
    assert new == [4]
    assert _stored(app, ws) == {1: t0, 2: t0, 3: t0, 4: t1}
    with transaction(factory) as s:  # do update: the new value, exactly (microseconds kept)
        upsert_rows(s, JourneyWake, _rows(ws, t1, range(1, 3)), KEY, lambda _, n: {"at": n.at})
    assert _stored(app, ws) == {1: t1, 2: t1, 3: t0, 4: t1}


def test_update_rows_changes_the_matching_rows_inside_the_fence_only(app: FastAPI) -> None:
    ws = make_tenant(app).workspace_id
    t0 = utcnow()
    factory = app.state.sessionmaker
    with transaction(factory) as s:
        upsert_rows(s, JourneyWake, _rows(ws, t0, range(1, 5)), KEY)
    later = t0 + timedelta(days=1)
    with transaction(factory) as s:
        changed = update_rows(
            s,
            JourneyWake,
            _rows(ws, later, range(2, 7)),  # 5 and 6 do not exist
            KEY,
            [JourneyWake.contact_id != 3],  # the fence keeps 3 as it is
        )
    assert changed == {(ws, 1, 2), (ws, 1, 4)}
    assert _stored(app, ws) == {1: t0, 2: later, 3: t0, 4: later}


def test_a_naive_time_is_refused(app: FastAPI) -> None:
    ws = make_tenant(app).workspace_id
    rows = _rows(ws, datetime(2026, 1, 1), range(1, 3))  # naive: no zone
    with pytest.raises((ValueError, StatementError)), transaction(app.state.sessionmaker) as s:
        upsert_rows(s, JourneyWake, rows, KEY)
    assert _stored(app, ws) == {}


def test_a_nul_character_is_refused_and_the_transaction_leaves_nothing(app: FastAPI) -> None:
    ws = make_tenant(app).workspace_id
    bad = {"workspace_id": ws, "id": 1, "name": "a\x00b", "type": "fact", "created_at": utcnow()}
    with transaction(app.state.sessionmaker) as s:
        upsert_rows(s, JourneyWake, _rows(ws, utcnow(), range(1, 3)), KEY)
        with pytest.raises(DataError):
            upsert_rows(s, Tag, [bad], ["workspace_id", "id"])
        s.rollback()
    assert _stored(app, ws) == {}


class _Stop(Exception):
    """The block failing after its writes."""


def test_a_transaction_whose_first_write_is_an_update_rows_rolls_back_whole(
    app: FastAPI,
) -> None:
    """``update_rows`` starts with ``WITH`` on SQLite, which the sqlite3 module ran outside the
    transaction: it was committed at once, and kept by the rollback."""
    ws = make_tenant(app).workspace_id
    t0 = utcnow()
    factory = app.state.sessionmaker
    with transaction(factory) as s:
        upsert_rows(s, JourneyWake, _rows(ws, t0, range(1, 3)), KEY)

    def fails_after_writing() -> None:
        with transaction(factory) as s:
            update_rows(s, JourneyWake, _rows(ws, t0 + timedelta(days=1), range(1, 3)), KEY)
            upsert_rows(s, JourneyWake, _rows(ws, t0, range(3, 4)), KEY)
            raise _Stop()

    with pytest.raises(_Stop):
        fails_after_writing()
    assert _stored(app, ws) == {1: t0, 2: t0}


def test_a_savepoint_that_opens_the_transaction_is_not_its_commit(app: FastAPI) -> None:
    ws = make_tenant(app).workspace_id

    def fails_after_the_savepoint() -> None:
        with transaction(app.state.sessionmaker) as s:
            with s.begin_nested():
                upsert_rows(s, JourneyWake, _rows(ws, utcnow(), range(1, 3)), KEY)
            raise _Stop()

    with pytest.raises(_Stop):
        fails_after_the_savepoint()
    assert _stored(app, ws) == {}


def test_a_savepoint_that_reads_first_can_still_write_after_another_writer(
    app: FastAPI,
) -> None:
    """On SQLite a transaction opened by a savepoint takes the write lock at once: a read
    snapshot turned into a write after another connection wrote failed with "database is
    locked" at once, whatever the busy timeout."""
    ws = make_tenant(app).workspace_id
    factory = app.state.sessionmaker
    read, other_done = threading.Event(), threading.Event()

    def other_writer() -> None:
        read.wait(5)
        with transaction(factory) as s:
            upsert_rows(s, JourneyWake, _rows(ws, utcnow(), range(2, 3)), KEY)
        other_done.set()

    writer = threading.Thread(target=other_writer)
    writer.start()
    with transaction(factory) as s:
        with s.begin_nested():
            s.execute(select(JourneyWake.contact_id).where(JourneyWake.workspace_id == ws)).all()
        read.set()
        other_done.wait(0.5)  # it commits now, or waits for this transaction's lock
        upsert_rows(s, JourneyWake, _rows(ws, utcnow(), range(1, 2)), KEY)
    writer.join(15)
    assert sorted(_stored(app, ws)) == [1, 2]
