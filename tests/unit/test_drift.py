"""Drift statistics and decisions on the seeded synthetic generator."""

from __future__ import annotations

import numpy as np
import pytest

from driftgate.dataset.spec import load_spec
from driftgate.dataset.synthetic import Shift, make_frame, true_importance
from driftgate.policies import DriftPolicy
from driftgate.tasks.drift import compute_drift, decide, ks_and_wasserstein

SPEC = load_spec("synthetic-classification")
# the per-column tests; the domain classifier and the PCA reconstruction: test_multivariate_drift.py
POLICY = DriftPolicy(multivariate_rows=0, reconstruction_rows=0)
N = 15_000


def test_ks_and_wasserstein_match_scipy() -> None:
    from scipy import stats

    rng = np.random.default_rng(0)
    a, b = np.sort(rng.normal(0, 1, 3000)), np.sort(rng.normal(0.3, 1.2, 2000))
    d, w = ks_and_wasserstein(a, b)
    assert d == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)
    assert w == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9)


def test_the_sorted_histogram_counts_as_numpys_histogram() -> None:
    from driftgate.tasks.drift._statistics import sorted_histogram

    rng = np.random.default_rng(1)
    ties = rng.integers(0, 7, 5000).astype(float)  # values on the edges, the last one closed
    for values in (rng.normal(size=20_000), ties, np.array([]), np.full(50, 3.0)):
        lo, hi = np.quantile(values, [0.01, 0.99]) if len(values) else (0.0, 1.0)
        edges = np.linspace(lo, hi if hi > lo else lo + 1, 21)
        clipped = np.clip(np.sort(values), lo, hi)
        assert sorted_histogram(clipped, edges).tolist() == np.histogram(clipped, edges)[0].tolist()
        wider = np.sort(values)  # values outside the edges are left out, as numpy leaves them
        assert sorted_histogram(wider, edges).tolist() == np.histogram(wider, edges)[0].tolist()


def _alarm_rate(shift: Shift | None, pairs: int) -> float:
    alarms = 0
    for i in range(pairs):
        ref = make_frame("classification", N, seed=10_000 + i)
        cur = make_frame("classification", N, seed=20_000 + i, shift=shift)
        report = compute_drift(ref, cur, SPEC, POLICY, importance=true_importance(), batch=i)
        alarms += decide(report, POLICY, SPEC, has_champion=True).retrain
    return alarms / pairs


@pytest.mark.slow  # hundreds of simulated drift checks
def test_no_drift_false_alarm_rate_is_at_most_5_percent() -> None:
    assert _alarm_rate(None, 200) <= 0.05


@pytest.mark.parametrize(
    "shift",
    [
        Shift(mean={"num_0": 0.25}),
        Shift(shares={"cat_0": {"a": 0.10}}),
        Shift(target_prior=0.45),
    ],
    ids=["mean-0.25sd-important-feature", "category-share-plus-10-points", "target-prior"],
)
def test_shifts_are_detected_at_least_95_percent(shift: Shift) -> None:
    assert _alarm_rate(shift, 40) >= 0.95


def test_decision_without_champion_retrains_and_says_why() -> None:
    decision = decide(None, POLICY, SPEC, has_champion=False)
    assert decision.retrain
    assert decision.reasons == ["no champion yet"]


def test_unimportant_feature_drift_does_not_retrain() -> None:
    ref = make_frame("classification", N, seed=1)
    cur = make_frame("classification", N, seed=2, shift=Shift(mean={"num_2": 0.5}))
    report = compute_drift(ref, cur, SPEC, DriftPolicy(), importance=true_importance())
    assert report.drifted == ["num_2"]
    assert report.multivariate is not None
    assert report.multivariate.drifted  # the domain classifier sees it too, on the same column
    assert report.multivariate.separating == ["num_2"]
    decision = decide(report, DriftPolicy(), SPEC, has_champion=True)
    assert not decision.retrain
    assert "num_2" in decision.reasons[0]
    assert "joint distribution drifted (AUROC" in decision.reasons[0]
    assert "on columns carrying 0% of the importance (num_2)" in decision.reasons[0]
