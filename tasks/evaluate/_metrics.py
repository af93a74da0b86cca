"""Evaluation metrics of a fitted pipeline, overall and per slice of each categorical feature."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from driftgate.dataset.spec import DatasetSpec
from driftgate.models.predict import Predictions, predict


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
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        log_loss,
        mean_absolute_error,
        r2_score,
        roc_auc_score,
        root_mean_squared_error,
    )

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
    A classifier's slices are scored by :func:`class_scores` on class positions: scikit-learn's
    metrics check and sort their inputs on every call, which was most of a retrain's evaluation
    (411 slices of the bench's wide table: 10.3 of 11.1 s); the overall metrics stay scikit-learn's.
    """
    rows: list[dict[str, Any]] = []
    if len(X) == 0:
        return rows
    X, y = X.reset_index(drop=True), y.reset_index(drop=True)
    scored = predict(model, spec.task, X)  # once: one predict per slice cost ~100x more on many levels
    coded = _as_codes(spec, y, scored) if scored.proba is not None else None
    for col in spec.categorical:
        levels = [(lv, idx) for lv, idx in X.groupby(col, observed=True).indices.items() if len(idx) >= min_rows]
        levels.sort(key=lambda item: -len(item[1]))
        for level, idx in levels[:max_levels]:
            if coded is not None:
                codes, pred, proba, pos = coded
                metrics = class_scores(codes[idx], pred[idx], proba[idx], pos)
            else:
                proba_part = None if scored.proba is None else scored.proba[idx]
                metrics = scores(spec, y.iloc[idx], Predictions(scored.values[idx], proba_part, scored.classes))
            rows.append({"feature": col, "level": str(level), "rows": len(idx), **metrics})
    return rows


def class_scores(y: np.ndarray, pred: np.ndarray, proba: np.ndarray, pos: int) -> dict[str, float]:
    """:func:`scores` of a classifier, on class positions: ``y`` and ``pred`` index ``proba``'s columns
    (``y`` -1: a label the model does not know). The same numbers as scikit-learn's metrics
    (``tests/unit/test_slice_metrics.py`` compares them): accuracy; F1 of ``pos`` for two classes, else
    macro F1 over the labels present in ``y`` or ``pred`` (0 where undefined); log loss with
    probabilities clipped to [eps, 1 - eps]; ROC AUC of ``pos`` for two classes, else the mean
    one-vs-rest AUC, each the Mann-Whitney statistic (ties count half, as the ROC curve's trapezoids).
    """
    k = proba.shape[1]
    hit = y == pred
    out = {"accuracy": float(hit.mean())}
    labels = [pos] if k == 2 else np.union1d(y, pred).tolist()
    f1 = []
    for label in labels:
        true, said = y == label, pred == label
        both = int(true.sum() + said.sum())
        f1.append(2 * int((true & said).sum()) / both if both else 0.0)
    out["f1"] = float(np.mean(f1))
    present = np.unique(y)
    if len(present) > 1 and present[0] >= 0:
        eps = np.finfo(proba.dtype).eps
        out["log_loss"] = float(-np.log(np.clip(proba[np.arange(len(y)), y], eps, 1 - eps)).mean())
        if k == 2:
            out["roc_auc"] = _auc(y == pos, proba[:, pos])
        elif len(present) != k:  # one-vs-rest AUC needs every class (scikit-learn warns, then NaN)
            out["roc_auc"] = float("nan")
        else:
            out["roc_auc"] = float(np.mean([_auc(y == c, proba[:, c]) for c in range(k)]))
    else:
        out["log_loss"] = out["roc_auc"] = float("nan")
    return out


def _auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic: mean ranks, so a tie counts half."""
    from scipy.stats import rankdata

    ranks = rankdata(score)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _as_codes(
    spec: DatasetSpec, y: pd.Series, scored: Predictions
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """Labels and predicted classes as positions in the model's classes (-1: a label it does not know),
    the probabilities and the positive class's position; None when the positive class is not one of the
    model's (then the labels are scored as they are)."""
    assert scored.proba is not None
    classes = list(scored.classes)
    pos = positive_class(spec, classes=classes)
    if pos not in classes:
        return None
    index = pd.Index(classes)
    codes = index.get_indexer(y).astype(np.int64)
    pred = index.get_indexer(scored.values).astype(np.int64)
    return codes, pred, np.asarray(scored.proba, dtype=np.float64), classes.index(pos)
