"""Slice metrics: per level of each categorical feature, the most frequent levels first, capped."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder

from driftgate.spec import load_spec
from driftgate.tasks.evaluate import slice_metrics
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
