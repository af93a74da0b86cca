"""Evaluation metrics of a fitted pipeline, overall and per slice of each categorical feature."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)

from driftgate.predict import Predictions, predict
from driftgate.spec import DatasetSpec


def positive_class(spec: DatasetSpec, y: pd.Series | np.ndarray | None = None, classes: Any = None) -> Any:
    """The class whose probability is scored: the spec's, else the last in sorted order."""
    if spec.positive_class is not None:
        return spec.positive_class
    values = classes if classes is not None else np.unique(np.asarray(y).astype(str))
    return sorted(values)[-1]


def evaluate(model: Any, spec: DatasetSpec, X: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    """The spec's task metrics of ``model`` on ``X, y`` (NaN where a metric is undefined)."""
    if len(X) == 0:
        return {}
    return scores(spec, y, predict(model, spec.task, X))


def scores(spec: DatasetSpec, y: pd.Series, scored: Predictions) -> dict[str, float]:
    """The spec's task metrics of predictions already made for ``y``'s rows."""
    if spec.task == "regression":
        pred = scored.values
        return {
            "rmse": float(root_mean_squared_error(y, pred)),
            "mae": float(mean_absolute_error(y, pred)),
            "r2": float(r2_score(y, pred)) if len(y) > 1 else float("nan"),
        }
    classes, proba, pred = scored.classes, scored.proba, scored.values
    assert proba is not None  # a classifier
    pos = positive_class(spec, classes=classes)
    out = {
        "accuracy": float(accuracy_score(y, pred)),
        # pos_label only for two classes: sklearn warns that it is ignored under average="macro"
        "f1": float(f1_score(y, pred, pos_label=pos) if len(classes) == 2 else f1_score(y, pred, average="macro")),
    }
    present = set(np.unique(y))
    if len(present) > 1 and present <= set(classes):
        out["log_loss"] = float(log_loss(y, proba, labels=classes))
        if len(classes) == 2:
            out["roc_auc"] = float(roc_auc_score(y == pos, proba[:, classes.index(pos)]))
        elif present != set(classes):  # one-vs-rest AUC needs every class (sklearn warns, then NaN)
            out["roc_auc"] = float("nan")
        else:
            out["roc_auc"] = float(roc_auc_score(y, proba, multi_class="ovr", labels=classes))
    else:
        out["log_loss"] = out["roc_auc"] = float("nan")
    return out


def primary_score(model: Any, spec: DatasetSpec, X: pd.DataFrame, y: pd.Series) -> float:
    return evaluate(model, spec, X, y).get(spec.metric.name, float("nan"))


MAX_SLICE_LEVELS = 30  # per feature: a 700-level code column gave ~700 slices and most of a retrain's evaluation time


def slice_metrics(
    model: Any, spec: DatasetSpec, X: pd.DataFrame, y: pd.Series, min_rows: int = 20, max_levels: int = MAX_SLICE_LEVELS
) -> list[dict[str, Any]]:
    """Metrics per level of each categorical feature.

    Only levels with at least ``min_rows`` rows, and of those the ``max_levels`` most frequent.
    """
    rows: list[dict[str, Any]] = []
    if len(X) == 0:
        return rows
    X, y = X.reset_index(drop=True), y.reset_index(drop=True)
    scored = predict(model, spec.task, X)  # once: one predict per slice cost ~100x more on many levels
    for col in spec.categorical:
        levels = [(level, idx) for level, idx in X.groupby(col, observed=True).indices.items() if len(idx) >= min_rows]
        levels.sort(key=lambda item: -len(item[1]))
        for level, idx in levels[:max_levels]:
            part = Predictions(scored.values[idx], None if scored.proba is None else scored.proba[idx], scored.classes)
            metrics = scores(spec, y.iloc[idx], part)
            rows.append({"feature": col, "level": str(level), "rows": len(idx), **metrics})
    return rows
