"""Answers that hold while the reactors run on one batch: the workspace's schema, its scoring
rules, its dynamic segments. Nothing a reactor does creates fields, tags, models, rules or
segments, so every reactor of every pass can share one reading of each; outside the reactors
(``scope`` not entered) every call reads afresh."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")
KEY = "guanxi.batch_memo"  # session.info: the answers, while a scope is open


@contextmanager
def scope(session: Session) -> Iterator[None]:
    """Remember answers until the scope closes (a scope opened inside another shares it)."""
    if KEY in session.info:
        yield
        return
    session.info[KEY] = {}
    try:
        yield
    finally:
        session.info.pop(KEY, None)


def memo(session: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, once per scope for ``key``."""
    answers: dict[Hashable, Any] | None = session.info.get(KEY)
    if answers is None:
        return compute()
    if key not in answers:
        answers[key] = compute()
    return answers[key]  # type: ignore[no-any-return]
