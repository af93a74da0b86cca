"""Slice metrics: per level of each categorical feature, the most frequent levels first, capped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder

from driftgate.dataset.spec import load_spec
from driftgate.models.predict import Predictions
from driftgate.tasks.evaluate import evaluate, slice_metrics
from driftgate.tasks.evaluate._metrics import _as_codes, class_scores, scores
from tests.conftest import ROOT

SPEC = load_spec("synthetic-classification", ROOT / "datasets")


def frame_with_many_levels(n_levels: int, rows_per_level: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    counts = [rows_per_level + i for i in range(n_levels)]  # level i has rows_per_level + i rows
    col = SPEC.categorical[0]
    levels = np.repeat([f"L{i}" for i in range(n_levels)], counts)
    X = pd.DataFrame({f: rng.normal(size=len(levels)) for f in SPEC.feature_names if f != col})
    X[col] = levels
    for other in SPEC.categorical[1:]:
        X[other] = "a"
    y = pd.Series(rng.choice(["0", "1"], size=len(levels)))
    return X[SPEC.feature_names], y


def test_a_many_level_column_gives_only_its_most_frequent_levels() -> None:
    X, y = frame_with_many_levels(n_levels=50, rows_per_level=20)
    model = make_pipeline(OrdinalEncoder(), DummyClassifier(strategy="prior")).fit(X, y)
    rows = [r for r in slice_metrics(model, SPEC, X, y, max_levels=10) if r["feature"] == SPEC.categorical[0]]
    assert [r["level"] for r in rows] == [f"L{i}" for i in range(49, 39, -1)]  # the ten largest, largest first
    assert [r["rows"] for r in rows] == list(range(69, 59, -1))


def test_levels_under_the_minimum_rows_are_left_out() -> None:
    X, y = frame_with_many_levels(n_levels=5, rows_per_level=18)  # 18..22 rows
    model = make_pipeline(OrdinalEncoder(), DummyClassifier(strategy="prior")).fit(X, y)
    rows = [r for r in slice_metrics(model, SPEC, X, y, min_rows=20) if r["feature"] == SPEC.categorical[0]]
    assert sorted(r["rows"] for r in rows) == [20, 21, 22]


@pytest.mark.parametrize("k", [2, 3])
def test_a_classifiers_slices_score_as_scikit_learns_metrics(k: int) -> None:
    """class_scores on class positions gives scikit-learn's numbers, slice by slice (ties, unknown labels,
    one-class slices and slices missing a class included)."""
    rng = np.random.default_rng(k)
    classes = ["high", "low", "mid"][:k]
    spec = SPEC.model_copy(update={"positive_class": None})
    for trial in range(60):
        n = int(rng.integers(5, 80))
        proba = np.round(rng.dirichlet(np.ones(k), n), 1 if trial % 2 else 6)  # rounded: many ties
        proba[:, -1] = 1 - proba[:, :-1].sum(axis=1)
        proba = np.clip(proba, 0, 1)
        labels = np.array([*classes, "unseen"], dtype=object)
        p_y = [0.0] * (k + 1)
        p_y[: k - (trial % 3 == 2)] = [1.0] * (k - (trial % 3 == 2))  # every third slice misses a class
        if trial % 7 == 0:
            p_y[k] = 0.3  # a label the model never saw
        y = pd.Series(rng.choice(labels, size=n, p=np.array(p_y) / sum(p_y)))
        pred = np.array(classes, dtype=object)[proba.argmax(axis=1)]
        scored = Predictions(pred, proba, classes)
        codes, pred_codes, proba_codes, pos = _as_codes(spec, y, scored)
        fast = class_scores(codes, pred_codes, proba_codes, pos)
        if k == 2 and trial % 7 == 0:
            continue  # scikit-learn refuses binary F1 on a third label; the positions still score it
        slow = scores(spec, y, scored)
        assert fast.keys() == slow.keys()
        for name in slow:
            assert fast[name] == pytest.approx(slow[name], rel=1e-12, abs=1e-12, nan_ok=True), (trial, name)


def test_slice_metrics_of_a_classifier_match_the_metrics_of_each_slice_alone() -> None:
    X, y = frame_with_many_levels(n_levels=6, rows_per_level=40)
    model = make_pipeline(OrdinalEncoder(), LogisticRegression()).fit(X, y)
    col = SPEC.categorical[0]
    for row in [r for r in slice_metrics(model, SPEC, X, y) if r["feature"] == col]:
        alone = X[col] == row["level"]
        expected = evaluate(model, SPEC, X[alone], y[alone])
        assert {k: row[k] for k in expected} == pytest.approx(expected, rel=1e-12)
