"""Answers remembered for the length of one batch's reactors, and only then."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from sqlalchemy.orm import Session

from guanxi.kit import batch_memo


def test_an_answer_is_computed_once_inside_a_scope_and_afresh_outside() -> None:
    session = cast(Session, SimpleNamespace(info={}))
    calls: list[int] = []

    def read() -> int:
        calls.append(1)
        return len(calls)

    assert batch_memo.memo(session, "k", read) == 1
    assert batch_memo.memo(session, "k", read) == 2  # no scope: nothing remembered
    with batch_memo.scope(session):
        assert batch_memo.memo(session, "k", read) == 3
        with batch_memo.scope(session):  # an inner scope shares the outer one
            assert batch_memo.memo(session, "k", read) == 3
        assert batch_memo.memo(session, "k", read) == 3
        assert batch_memo.memo(session, "other", read) == 4
    assert session.info == {}
    assert batch_memo.memo(session, "k", read) == 5
