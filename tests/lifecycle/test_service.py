"""The lifecycle's rules without HTTP: which way a move goes, where entry rules take a contact,
the default funnel and how a spreadsheet names a stage."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import func, select

from guanxi.lifecycle import service
from guanxi.lifecycle.moves import Ladder, Rung
from guanxi.lifecycle.rules import decide
from guanxi.models import LifecycleStage
from tests.factories import make_tenant

LADDER = Ladder(
    [
        Rung("subscriber", 0, "funnel"),
        Rung("lead", 1, "funnel"),
        Rung("mql", 2, "funnel"),
        Rung("sql", 3, "funnel"),
        Rung("customer", 4, "funnel"),
        Rung("churned", 5, "exit"),
    ]
)


def test_direction_of_a_move() -> None:
    assert not LADDER.backward(None, "lead")
    assert not LADDER.backward("lead", "sql")
    assert LADDER.backward("sql", "lead")  # recycled to nurture
    assert not LADDER.backward("customer", "churned")  # leaving is not going back
    assert LADDER.backward("churned", "customer")  # a win-back
    assert not LADDER.backward("legacy_value", "subscriber")  # from a key no stage has


def rules(*keys: str) -> list[tuple[Rung, str]]:
    """Rules named after their stage: ``matches`` below says which ones a contact meets."""
    return [(LADDER.rungs[k], k) for k in keys]


def test_entry_rules_take_the_furthest_stage_forward_only() -> None:
    ruled = rules("lead", "mql", "sql", "churned")
    assert decide(LADDER, ruled, None, lambda k: k in {"lead", "mql"}) == "mql"
    assert decide(LADDER, ruled, "lead", lambda k: k in {"lead", "sql"}) == "sql"  # skips mql
    assert decide(LADDER, ruled, "sql", lambda k: k in {"lead", "mql"}) is None  # never back
    assert decide(LADDER, ruled, "mql", lambda k: False) is None


def test_exit_rules_take_funnel_contacts_out_and_never_bring_them_back() -> None:
    ruled = rules("sql", "churned")
    assert decide(LADDER, ruled, "customer", lambda k: True) == "churned"  # exit wins
    assert decide(LADDER, ruled, None, lambda k: k == "churned") is None  # never in the funnel
    assert decide(LADDER, ruled, "churned", lambda k: True) is None  # win-back is by hand


def test_the_default_funnel_is_written_once_with_names_in_both_languages(app: FastAPI) -> None:
    tenant = make_tenant(app)
    with tenant.session() as s:
        first = [st.key for st in service.stages(s, tenant.workspace_id)]
    with tenant.session() as s:
        again = service.stages(s, tenant.workspace_id)
        assert [st.key for st in again] == first
        count = s.scalar(
            select(func.count())
            .select_from(LifecycleStage)
            .where(LifecycleStage.workspace_id == tenant.workspace_id)
        )
        mql = next(st for st in again if st.key == "mql")
        assert service.label(mql, "zh_CN") == "市场认可线索 (MQL)"
        assert service.label(mql, "en") == "Marketing qualified lead (MQL)"
        assert [st.kind for st in again][-1] == "exit"
    assert first == [
        "subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer", "advocate",
        "churned",
    ]  # fmt: skip
    assert count == 9


def test_a_spreadsheet_names_a_stage_by_key_or_by_name(app: FastAPI) -> None:
    tenant = make_tenant(app)
    with tenant.session() as s:
        rows = service.stages(s, tenant.workspace_id)
        assert (found := service.find(rows, "MQL")) is not None
        assert found.key == "mql"
        assert (found := service.find(rows, "客户")) is not None
        assert found.key == "customer"
        assert (found := service.find(rows, " opportunity ")) is not None
        assert found.key == "opportunity"
        assert service.find(rows, "prospect") is None
