"""The budgeted search's rungs: which candidates go on (pure, no fitting)."""

from __future__ import annotations

from driftgate.tasks.train._budget import _pool, _survivors, _Trial


def rung(*scores: tuple[str, float]) -> list[_Trial]:
    """A finished rung, best first (scores: higher is better, as scikit-learn's scorers)."""
    trials = [_Trial(family, {"i": i}, [score]) for i, (family, score) in enumerate(scores)]
    return sorted(trials, key=lambda t: -t.scores[-1])


def test_a_family_that_trails_on_few_rows_goes_on() -> None:
    # diamonds' first rung (261 rows): the linear model led, gradient boosting trailed by 12 %,
    # and won on all rows (test RMSE 678 vs 1204) once it was kept
    done = rung(("linear", -1165.0), ("linear", -1180.0), ("linear", -1200.0), ("gradient_boosting", -1305.0))
    families = [t.family for t in _survivors(done)]
    assert families == ["linear", "linear", "gradient_boosting"]  # the best third (2 of 4), then its best


def test_a_family_more_than_twice_as_far_off_stops() -> None:
    done = rung(("linear", -1000.0), ("linear", -1010.0), ("linear", -1020.0), ("gradient_boosting", -2500.0))
    assert [t.family for t in _survivors(done)] == ["linear", "linear"]


def test_the_best_third_goes_on_whatever_the_family() -> None:
    done = rung(*[("gradient_boosting", -100.0 - i) for i in range(6)], ("linear", -150.0))
    kept = _survivors(done)
    assert [t.scores[0] for t in kept[:3]] == [-100.0, -101.0, -102.0]  # a third of 7, rounded up: 3
    assert [t.family for t in kept[3:]] == ["linear"]


def test_each_family_starts_from_its_estimators_defaults_after_the_warm_start() -> None:
    from scipy.stats import loguniform

    spaces = {"gbm": {"learning_rate": loguniform(0.03, 0.3)}, "linear": {"C": loguniform(0.01, 100)}}
    defaults = {"gbm": {"learning_rate": 0.1}, "linear": {"C": 1.0}}
    pool = [(t.family, t.params) for t in _pool(spaces, 3, 0, None, defaults)]
    assert pool[:2] == [("gbm", {"learning_rate": 0.1}), ("linear", {"C": 1.0})]
    assert len(pool) == 6  # the defaults take one of each family's three places
    warm = [(t.family, t.params) for t in _pool(spaces, 3, 0, ("linear", {"C": 0.37}), defaults)]
    assert warm[:4] == [("linear", {"C": 0.37}), ("gbm", {"learning_rate": 0.1}), ("linear", {"C": 1.0}), warm[3]]
    assert len(warm) == 6
