"""Categorical encoding by cardinality: which column gets which encoding, and the pipeline it builds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression

from driftgate.dataset.encoding import ONE_HOT_MAX_LEVELS, encoding_of
from driftgate.dataset.frames import normalize
from driftgate.dataset.spec import DatasetSpec, Feature, Metric
from driftgate.tasks.explain import PipelineExplainer
from driftgate.tasks.train import build_pipeline, encoded_columns, parse_params, search_spaces

CODES = [f"c{i:03d}" for i in range(300)]
COLOURS = ["red", "green", "blue"]


def coded_table(rows: int, seed: int, task: str = "classification") -> tuple[DatasetSpec, pd.DataFrame]:
    """A 300-level code column and a 3-level one drive the target; 3 classes or a number."""
    rng = np.random.default_rng(seed)
    code = rng.integers(0, len(CODES), rows)
    colour = rng.integers(0, len(COLOURS), rows)
    x = rng.normal(size=rows)
    signal = np.where(code % 3 == 0, 3.0, -1.0) + 0.5 * colour + 0.5 * x + rng.normal(0, 0.5, rows)
    codes = np.array(CODES, dtype=object)[code]
    codes[rng.random(rows) < 0.05] = None  # missing codes are a level of their own
    frame = pd.DataFrame({"x": x, "code": codes, "colour": np.array(COLOURS, dtype=object)[colour]})
    if task == "classification":
        frame["y"] = np.array(["low", "mid", "high"], dtype=object)[np.digitize(signal, [0.0, 1.5])]
        metric = Metric(name="accuracy", direction="maximize")
    else:
        frame["y"] = signal
        metric = Metric(name="rmse", direction="minimize")
    spec = DatasetSpec(
        name="coded",
        task=task,
        target="y",
        model_name="coded",
        source="synthetic:test",
        metric=metric,
        features=[
            Feature(name="x", type="numeric"),
            Feature(name="code", type="categorical", values=CODES),
            Feature(name="colour", type="categorical", values=COLOURS),
        ],
    )
    return spec, normalize(frame[spec.columns], spec)


@pytest.mark.parametrize(
    ("levels", "encoding"),
    [(2, "one-hot"), (ONE_HOT_MAX_LEVELS, "one-hot"), (ONE_HOT_MAX_LEVELS + 1, "target"), (800, "target")],
)
def test_the_number_of_levels_decides_the_encoding(levels: int, encoding: str) -> None:
    assert encoding_of(levels) == encoding


def test_the_pipeline_target_encodes_only_the_many_level_column_unless_told_one_hot() -> None:
    spec, _ = coded_table(10, seed=0)
    assert encoded_columns(spec) == (["colour"], ["code"])
    assert encoded_columns(spec, "one-hot") == (["code", "colour"], [])
    with pytest.raises(ValueError, match="categorical encoding"):
        encoded_columns(spec, "hashing")


@pytest.mark.parametrize(
    ("task", "estimator", "scale"),
    [
        ("classification", HistGradientBoostingClassifier(max_iter=30, random_state=0), False),
        ("classification", LogisticRegression(max_iter=500), True),
        ("regression", HistGradientBoostingRegressor(max_iter=30, random_state=0), False),
    ],
)
def test_a_target_encoded_pipeline_predicts_on_original_rows_and_is_explained_per_original_feature(
    task: str, estimator: object, scale: bool
) -> None:
    spec, rows = coded_table(3000, seed=1, task=task)
    train, test = rows.iloc[:2500], rows.iloc[2500:].copy()
    model = build_pipeline(spec, estimator, scale=scale).fit(train[spec.feature_names], train[spec.target])  # type: ignore[arg-type]
    test.loc[test.index[:3], "code"] = ["never-seen", None, "c999"]  # unknown and missing levels still predict
    X = test[spec.feature_names]
    out = model.predict_proba(X) if task == "classification" else model.predict(X)
    assert len(out) == len(X)
    assert np.isfinite(out).all()
    explanation = PipelineExplainer(model, spec, train).explain(X.head(40))
    assert explanation.features == spec.feature_names
    assert explanation.values.shape == (40, 3)
    # exact: base + per-feature values = the model's raw output, once the encoded columns are summed back
    assert explanation.values.sum(axis=1) + explanation.base_values == pytest.approx(explanation.raw_output, abs=1e-6)
    assert max(explanation.importance(), key=explanation.importance().get) == "code"  # type: ignore[arg-type]


def test_logged_hyperparameters_parse_back_to_their_types() -> None:
    spec, _ = coded_table(10, seed=0)
    spaces = search_spaces(spec, seed=0)
    logged = {
        "learning_rate": "0.1",
        "max_leaf_nodes": "31",
        "class_weight": "None",
        "family": "gradient_boosting",
        "min_samples_leaf": "20",
        "l2_regularization": "0.5",
        "train_rows": "100",
    }
    params = parse_params(spaces["gradient_boosting"][1], logged)
    assert params == {
        "learning_rate": 0.1,
        "max_leaf_nodes": 31,
        "min_samples_leaf": 20,
        "l2_regularization": 0.5,
        "class_weight": None,
    }
    assert parse_params(spaces["linear"][1], {"C": "2.5", "class_weight": "balanced"}) == {
        "C": 2.5,
        "class_weight": "balanced",
    }
