"""Attribution drift (#38): NDCG of a batch's mean-|SHAP| ranking against the version's own."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from driftgate.policies import DriftPolicy
from driftgate.dataset.sources import load_source
from driftgate.dataset.spec import DatasetSpec, load_spec
from driftgate.tasks.drift import compare_rankings, compute_drift, decide, ndcg
from driftgate.tasks.explain import explain_sample
from driftgate.tasks.train import build_pipeline
from tests.conftest import ROOT

DIAMONDS = load_spec("diamonds", ROOT / "datasets")


def test_ndcg_of_hand_computed_rankings() -> None:
    relevance = {"a": 3.0, "b": 2.0, "c": 1.0}
    ideal = 3 + 2 / math.log2(3) + 1 / 2  # 4.761859...
    assert ndcg(relevance, ["a", "b", "c"]) == pytest.approx(1.0)
    # b, a, c: 2/1 + 3/log2(3) + 1/2 = 4.392789 -> 0.922495
    assert ndcg(relevance, ["b", "a", "c"]) == pytest.approx((2 + 3 / math.log2(3) + 0.5) / ideal)
    assert ndcg(relevance, ["b", "a", "c"]) == pytest.approx(0.922495, abs=1e-6)
    # reversed: 1 + 2/log2(3) + 3/2 = 3.761860 -> 0.789998
    assert ndcg(relevance, ["c", "b", "a"]) == pytest.approx(0.789998, abs=1e-6)
    # at k = 1: the gain of the first place alone, against the best first place
    assert ndcg(relevance, ["b", "a", "c"], k=1) == pytest.approx(2 / 3)
    # a feature the version does not know gains nothing; a ranking that leaves one out loses its gain
    assert ndcg(relevance, ["x", "a", "b", "c"]) == pytest.approx((3 / math.log2(3) + 1 + 1 / math.log2(5)) / ideal)
    assert ndcg({"a": 0.0}, ["a"]) == 1.0  # nothing relevant: nothing to lose


def test_compare_rankings_flags_below_the_bound() -> None:
    version = {"a": 3.0, "b": 2.0, "c": 1.0}
    same = compare_rankings(version, {"a": 2.9, "b": 2.1, "c": 1.1}, rows=500, threshold=0.9)
    assert not same.drifted
    assert same.ndcg == pytest.approx(1.0)
    swapped = compare_rankings(version, {"a": 1.0, "b": 2.0, "c": 3.0}, rows=500, threshold=0.9)
    assert swapped.drifted
    assert swapped.ndcg == pytest.approx(0.789998, abs=1e-6)
    assert swapped.batch_top == ["c", "b", "a"]
    assert swapped.version_top == ["a", "b", "c"]


@pytest.fixture(scope="module")
def champion() -> tuple[object, dict[str, float], pd.DataFrame]:
    """A gradient-boosting pipeline on 8,000 diamonds, its importance on 2,000 held-out rows, 5,000 fresh rows."""
    frame = load_source(DIAMONDS)
    rows = np.random.default_rng(0).permutation(len(frame))
    train, test = frame.iloc[rows[:8000]], frame.iloc[rows[8000:10_000]]
    fresh = frame.iloc[rows[10_000:15_000]].reset_index(drop=True)
    model = build_pipeline(DIAMONDS, HistGradientBoostingRegressor(max_iter=100, random_state=0), scale=False)
    model.fit(train[DIAMONDS.feature_names], train[DIAMONDS.target])
    importance = explain_sample(model, DIAMONDS, test, 500, 60, 42).importance()
    return model, importance, fresh


def test_a_fresh_batch_keeps_the_versions_reasons(champion: tuple[object, dict[str, float], pd.DataFrame]) -> None:
    model, importance, fresh = champion
    policy = DriftPolicy(multivariate_rows=0, reconstruction_rows=0)
    report = compute_drift(fresh, fresh, DIAMONDS, policy, importance=importance, model=model)
    assert report.attribution is not None
    assert report.attribution.ndcg > 0.99
    assert not report.attribution_drift
    assert report.attribution.rows == 500
    assert not decide(report, policy, DIAMONDS, has_champion=True).retrain


GATED = DatasetSpec.model_validate(
    {
        "name": "gated",
        "task": "regression",
        "target": "y",
        "model_name": "gated",
        "source": "x.csv",
        "metric": {"name": "rmse", "direction": "minimize"},
        "features": [{"name": f"x{i}", "type": "numeric"} for i in range(4)],
    }
)


def gated(rows: int, seed: int) -> pd.DataFrame:
    """y = 3 x0 where x1 > 0 (else 0) + x2 + 0.5 x3: x0 matters most, and only where x1 is positive."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4))
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(4)])
    frame["y"] = np.where(frame.x1 > 0, 3 * frame.x0, 0) + frame.x2 + 0.5 * frame.x3 + 0.1 * rng.normal(size=rows)
    return frame


def test_a_batch_where_the_most_important_feature_stops_mattering_falls_below_the_bound() -> None:
    """x0 arrives in other units (divided by 100, a feed that changed from cm to m): every value sits where the
    model's x0 splits cannot tell them apart, and x0, first in the version's ranking, stops moving the output.

    (Rows of one segment only, x1 < 0, where x0 no longer matters, score 0.944: TreeSHAP still gives x0 half of
    the x0-x1 interaction there, and x0 falls to second place only.)"""
    model = build_pipeline(GATED, HistGradientBoostingRegressor(max_iter=200, random_state=0), scale=False)
    train = gated(8000, 0)
    model.fit(train[GATED.feature_names], train["y"])
    importance = explain_sample(model, GATED, gated(2000, 1), 500, 60, 42).importance()
    assert next(iter(importance)) == "x0"
    policy = DriftPolicy(multivariate_rows=0, reconstruction_rows=0)
    fresh = compute_drift(train, gated(5000, 2), GATED, policy, importance=importance, model=model)
    assert fresh.attribution is not None
    assert fresh.attribution.ndcg > 0.99
    moved = gated(5000, 3)
    moved["x0"] /= 100
    segment = compute_drift(train, moved, GATED, policy, importance=importance, model=model)
    ad = segment.attribution
    assert ad is not None
    assert ad.ndcg < policy.attribution_ndcg_min
    assert ad.version_top[0] == "x0"
    assert ad.batch_top[0] == "x2"
    assert ad.batch_importance["x0"] < 0.2 * importance["x0"]
    decision = decide(segment, policy, GATED, has_champion=True)
    assert decision.retrain
    assert decision.trigger == "drift"
    assert any(r.startswith("attribution: the model's reasons drifted") for r in decision.reasons)
    assert "NDCG" in segment.to_html(decision)
    assert segment.to_dict()["attribution_drift"] is True


def test_a_shuffled_feature_keeps_its_mean_shap(champion: tuple[object, dict[str, float], pd.DataFrame]) -> None:
    """What this view does not see: one column shuffled among rows keeps its marginal, and a near-additive
    model's mean |SHAP| per feature with it (the joint views see it: test_reconstruction_drift.py)."""
    model, importance, fresh = champion
    shuffled = fresh.copy()
    top = next(iter(importance))
    shuffled[top] = np.random.default_rng(3).permutation(shuffled[top].to_numpy())
    report = compute_drift(
        fresh,
        shuffled,
        DIAMONDS,
        DriftPolicy(multivariate_rows=0, reconstruction_rows=0),
        importance=importance,
        model=model,
    )
    assert report.attribution is not None
    assert report.attribution.ndcg > 0.98


def test_no_explanation_of_the_version_gives_a_note(champion: tuple[object, dict[str, float], pd.DataFrame]) -> None:
    model, _, fresh = champion
    report = compute_drift(
        fresh, fresh, DIAMONDS, DriftPolicy(multivariate_rows=0, reconstruction_rows=0), importance=None, model=model
    )
    assert report.attribution is not None
    assert report.attribution.note == "the version has no explanation to compare with"
    assert not report.attribution_drift
