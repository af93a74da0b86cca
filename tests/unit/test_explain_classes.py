"""Explanations say which class they explain, and still add up to the model's raw output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from driftgate.dataset.frames import normalize
from driftgate.dataset.spec import DatasetSpec
from driftgate.tasks.explain import PipelineExplainer
from driftgate.tasks.train import build_pipeline


def wine() -> tuple[DatasetSpec, pd.DataFrame]:
    """scikit-learn's wine table (3 cultivars) with a categorical column added."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame.iloc[:, [0, 6, 9, 12, 13]]
    frame.columns = ["alcohol", "flavanoids", "colour", "proline", "cultivar"]
    frame["cultivar"] = frame["cultivar"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    frame["cellar"] = np.random.default_rng(0).choice(["a", "b"], len(frame))
    spec = DatasetSpec.model_validate(
        {
            "name": "wine",
            "task": "classification",
            "target": "cultivar",
            "model_name": "wine",
            "source": "x.csv",
            "metric": {"name": "accuracy", "direction": "maximize"},
            "features": [
                *({"name": c, "type": "numeric"} for c in ["alcohol", "flavanoids", "colour", "proline"]),
                {"name": "cellar", "type": "categorical", "values": ["a", "b"]},
            ],
        }
    )
    return spec, normalize(frame, spec)


@pytest.mark.parametrize(
    ("estimator", "scale"),
    [
        (HistGradientBoostingClassifier(max_iter=30, random_state=0), False),
        (LogisticRegression(max_iter=500), True),
        (LGBMClassifier(n_estimators=30, random_state=0, n_jobs=1, verbose=-1), False),  # a cluster-trained version
    ],
)
def test_multi_class_rows_are_explained_for_their_predicted_class(estimator: object, scale: bool) -> None:
    spec, frame = wine()
    model = build_pipeline(spec, estimator, scale=scale).fit(frame[spec.feature_names], frame[spec.target])  # type: ignore[arg-type]
    rows = frame.iloc[::5]  # the table is sorted by cultivar: take rows of every class
    ex = PipelineExplainer(model, spec, frame).explain(rows)
    assert ex.explainer == ("linear" if scale else "tree")  # exact: no permutation fallback
    predicted = [str(p) for p in model.predict(rows[spec.feature_names])]
    assert ex.explained_class == predicted
    assert len(set(predicted)) > 1  # the rows really are explained for different classes
    np.testing.assert_allclose(ex.base_values + ex.values.sum(axis=1), ex.raw_output, atol=1e-6)
    assert ex.class_importance is not None
    assert set(ex.class_importance) == {"barbera", "barolo", "grignolino"}
    assert all(set(imp) == set(spec.feature_names) for imp in ex.class_importance.values())


@pytest.mark.parametrize(
    "estimator",
    [HistGradientBoostingClassifier(max_iter=30), LGBMClassifier(n_estimators=30, n_jobs=1, verbose=-1)],
)
def test_binary_explanations_name_the_class_of_the_log_odds(estimator: object) -> None:
    spec, frame = wine()
    frame = frame[frame["cultivar"] != "barbera"].reset_index(drop=True)
    model = build_pipeline(spec, estimator, scale=False)  # type: ignore[arg-type]
    model.fit(frame[spec.feature_names], frame[spec.target])
    ex = PipelineExplainer(model, spec, frame).explain(frame.head(10))
    assert ex.explainer == "tree"  # exact TreeSHAP, not the permutation fallback
    assert ex.explained_class == ["grignolino"] * 10  # classes_ sorted: log-odds of the second
    assert ex.class_importance is None
    np.testing.assert_allclose(ex.base_values + ex.values.sum(axis=1), ex.raw_output, atol=1e-6)
