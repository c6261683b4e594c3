"""Score arithmetic, pure: anchored half-life engagement agrees with a direct decay, linear
fade over a window, combined models as weighted sums, grades at their thresholds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guanxi.scoring import decay
from guanxi.scoring.decay import EPOCH, ScoreFact, ScoreSpec

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
HALF = ScoreSpec(decay="half_life", days=30, epoch=EPOCH)
LINEAR = ScoreSpec(decay="linear", days=10)
NONE = ScoreSpec()


def direct(points: float, earned_at: datetime, now: datetime, days: int) -> float:
    age = (now - earned_at).total_seconds() / 86400
    return float(points * 2.0 ** (-age / days))


@given(
    points=st.floats(min_value=-1000, max_value=1000, allow_nan=False),
    earned_days=st.floats(min_value=-400, max_value=400),
    later_days=st.floats(min_value=0, max_value=400),
    days=st.integers(min_value=1, max_value=365),
)
def test_anchor_times_factor_is_the_direct_decay(
    points: float, earned_days: float, later_days: float, days: int
) -> None:
    spec = ScoreSpec(decay="half_life", days=days, epoch=EPOCH)
    earned = EPOCH + timedelta(days=earned_days)
    now = earned + timedelta(days=later_days)
    got = decay.anchor(spec, points, earned) * decay.factor(spec, now)
    assert got == pytest.approx(direct(points, earned, now, days), rel=1e-9, abs=1e-9)
    assert decay.worth(spec, points, earned, now) == pytest.approx(got, rel=1e-12, abs=1e-12)


def test_a_half_life_halves_the_worth() -> None:
    earned = NOW - timedelta(days=30)
    assert decay.worth(HALF, 40, earned, NOW) == pytest.approx(20.0)
    assert decay.worth(HALF, 40, NOW - timedelta(days=60), NOW) == pytest.approx(10.0)
    assert decay.worth(HALF, 40, NOW, NOW) == pytest.approx(40.0)
    # an anchored sum decays as its parts do
    fact = ScoreFact(engagement=decay.anchor(HALF, 40, earned) + decay.anchor(HALF, 8, NOW))
    assert decay.engagement(HALF, fact, NOW) == pytest.approx(28.0)


def test_without_decay_points_keep_their_worth() -> None:
    assert decay.factor(NONE, NOW) == 1.0
    assert decay.anchor(NONE, 12.5, NOW - timedelta(days=900)) == 12.5
    assert decay.worth(NONE, 12.5, NOW - timedelta(days=900), NOW) == 12.5
    assert decay.engagement(NONE, ScoreFact(engagement=7.0), NOW) == 7.0


def test_linear_points_fade_to_nothing_over_the_window() -> None:
    assert decay.window_start(LINEAR, NOW) == NOW - timedelta(days=10)
    assert decay.linear_weight(LINEAR, NOW, NOW) == 1.0
    assert decay.linear_weight(LINEAR, NOW - timedelta(days=2.5), NOW) == 0.75
    assert decay.linear_weight(LINEAR, NOW - timedelta(days=5), NOW) == 0.5
    assert decay.linear_weight(LINEAR, NOW - timedelta(days=10), NOW) == 0.0
    assert decay.linear_weight(LINEAR, NOW - timedelta(days=11), NOW) == 0.0
    assert decay.linear_weight(LINEAR, NOW + timedelta(seconds=1), NOW) == 0.0
    assert decay.worth(LINEAR, 20, NOW - timedelta(days=5), NOW) == 10.0
    fact = ScoreFact(
        engagement=999.0,  # unused: a linear model sums its points inside the window
        points=(
            (NOW, 10.0),
            (NOW - timedelta(days=5), 20.0),
            (NOW - timedelta(days=7.5), -8.0),
            (NOW - timedelta(days=30), 100.0),
        ),
    )
    assert decay.engagement(LINEAR, fact, NOW) == 10.0 + 10.0 - 2.0


SPECS = {
    "1": HALF,
    "2": NONE,
    "3": ScoreSpec(weights={"1": 0.7, "2": 0.3}),
    "4": ScoreSpec(weights={"3": 2.0, "2": -1.0}),
}
FACTS = {
    "1": ScoreFact(engagement=decay.anchor(HALF, 40, NOW - timedelta(days=30)), fit=10.0),
    "2": ScoreFact(engagement=5.0, fit=80.0),
}


def test_combined_parts_are_weighted_sums() -> None:
    assert SPECS["3"].combined
    assert not SPECS["1"].combined
    assert decay.part("1", "engagement", SPECS, FACTS, NOW) == pytest.approx(20.0)
    assert decay.part("1", "fit", SPECS, FACTS, NOW) == 10.0
    assert decay.part("1", "score", SPECS, FACTS, NOW) == pytest.approx(30.0)
    assert decay.part("2", "score", SPECS, FACTS, NOW) == 85.0
    assert decay.part("3", "engagement", SPECS, FACTS, NOW) == pytest.approx(0.7 * 20 + 0.3 * 5)
    assert decay.part("3", "fit", SPECS, FACTS, NOW) == pytest.approx(0.7 * 10 + 0.3 * 80)
    assert decay.part("3", "score", SPECS, FACTS, NOW) == pytest.approx(0.7 * 30 + 0.3 * 85)
    assert decay.part("4", "score", SPECS, FACTS, NOW) == pytest.approx(2 * 46.5 - 85)


def test_a_contact_never_scored_has_nothing() -> None:
    for which in ("score", "engagement", "fit"):
        assert decay.part("1", which, SPECS, {}, NOW) == 0.0
        assert decay.part("3", which, SPECS, {}, NOW) == 0.0


@pytest.mark.parametrize(
    ("fit", "grade"),
    [(100, "A"), (75, "A"), (74.99, "B"), (50, "B"), (49.9, "C"), (25, "C"), (24.9, "D"),
     (0, "D"), (-60, "D")],
)  # fmt: skip
def test_grades_at_their_thresholds(fit: float, grade: str) -> None:
    assert decay.grade(NONE, fit) == grade


def test_grades_follow_the_models_thresholds() -> None:
    spec = ScoreSpec(grades={"A": 10, "B": 10, "C": -5})
    assert [decay.grade(spec, f) for f in (10, 9, -5, -6)] == ["A", "C", "C", "D"]
