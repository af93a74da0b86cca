"""Estimated performance before labels arrive (classifiers): confidence-based, as NannyML's CBPE.

If a model's calibrated probability ``c`` of the positive class is right, a row predicted
positive is a true positive with probability ``c`` and a false positive with ``1 - c``; summing
over live rows gives the expected confusion matrix, hence the expected metric, without labels.
Calibration is fitted once on the champion's validation rows (Platt scaling on the logit: isotonic
steps over-fit the extremes, which shifted inputs reach: 0.035 AUC off against 0.01). The estimate stays
right under covariate shift (inputs move, the relation does not); it cannot see concept drift,
which is what realized performance is for.

Multi-class models: each class gets its own one-vs-rest Platt scaling, the calibrated row is
renormalised to sum to one (NannyML's multi-class CBPE does the same), and the expected confusion
matrix gives accuracy, macro F1, one-vs-rest macro ROC AUC and log loss, matching how realized
performance scores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from driftgate.dataset.spec import DatasetSpec

SUPPORTED = ("roc_auc", "accuracy", "f1", "log_loss")
_EPS = 1e-12


@dataclass(frozen=True)
class Calibration:
    """Maps the model's positive-class probability to a calibrated one (multi-class: every class's)."""

    positive: str  # binary: the positive class; multi-class: ""
    classes: list[str]
    slope: float
    intercept: float
    rows: int
    per_class: tuple[tuple[float, float], ...] = ()  # multi-class: (slope, intercept) per class, in classes order

    def calibrated(self, p: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.slope * _logit(p) + self.intercept)))

    def calibrated_matrix(self, proba: np.ndarray) -> np.ndarray:
        """Multi-class: each column calibrated one-vs-rest, each row renormalised to sum to one."""
        slopes = np.array([a for a, _ in self.per_class])
        intercepts = np.array([b for _, b in self.per_class])
        c = 1.0 / (1.0 + np.exp(-(slopes * _logit(proba) + intercepts)))
        return c / np.clip(c.sum(axis=1, keepdims=True), _EPS, None)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1.0 - p))


def fit_calibration(p_positive: np.ndarray, y: np.ndarray, positive: str, classes: list[str]) -> Calibration:
    """Platt scaling of positive-class probabilities against labels (``y == positive``).

    With a single class in ``y`` there is nothing to fit: the identity map is kept.
    """
    from sklearn.linear_model import LogisticRegression

    target = (np.asarray(y).astype(str) == positive).astype(int)
    if len(np.unique(target)) < 2:
        return Calibration(positive, classes, 1.0, 0.0, len(target))
    fit = LogisticRegression(C=1e6).fit(_logit(p_positive)[:, None], target)
    return Calibration(positive, classes, float(fit.coef_[0, 0]), float(fit.intercept_[0]), len(target))


def fit_multiclass_calibration(proba: np.ndarray, y: np.ndarray, classes: list[str]) -> Calibration:
    """One-vs-rest Platt scaling of every class's probability (columns of ``proba`` in ``classes`` order)."""
    truth = np.asarray(y).astype(str)
    per_class = []
    for j, cls in enumerate(classes):
        one = fit_calibration(proba[:, j], truth, cls, classes)
        per_class.append((one.slope, one.intercept))
    return Calibration("", list(classes), 1.0, 0.0, len(truth), tuple(per_class))


def expected_multiclass_metric(metric: str, proba: np.ndarray, c: np.ndarray) -> float:
    """The metric's expectation when row ``i`` is of class ``j`` with probability ``c[i, j]``.

    Args:
        metric: one of :data:`SUPPORTED`; F1 is macro-averaged, ROC AUC one-vs-rest macro.
        proba: the model's probabilities (rows, classes).
        c: calibrated probabilities, rows summing to one.
    """
    if len(c) == 0:
        return float("nan")
    pred = proba.argmax(axis=1)
    rows = np.arange(len(c))
    if metric == "accuracy":
        return float(np.mean(c[rows, pred]))
    if metric == "f1":
        scores = []
        for j in range(c.shape[1]):
            mine = pred == j
            tp, fp, fn = float(c[mine, j].sum()), float((1.0 - c[mine, j]).sum()), float(c[~mine, j].sum())
            scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else 0.0)
        return float(np.mean(scores))
    if metric == "roc_auc":
        aucs = [expected_metric("roc_auc", proba[:, j], c[:, j], pred == j) for j in range(c.shape[1])]
        return float(np.mean(aucs))
    if metric == "log_loss":
        return float(-np.mean((c * np.log(np.clip(proba, _EPS, 1.0))).sum(axis=1)))
    raise ValueError(f"no estimate for metric {metric!r}; supported: {SUPPORTED}")


def expected_metric(metric: str, p_model: np.ndarray, c: np.ndarray, predicted_positive: np.ndarray) -> float:
    """The metric's expectation when row ``i`` is positive with probability ``c[i]``.

    Args:
        metric: one of :data:`SUPPORTED`.
        p_model: the model's positive-class probabilities (its scores).
        c: calibrated positive-class probabilities.
        predicted_positive: the model's decisions (arg-max class is the positive one).
    """
    from sklearn.metrics import roc_auc_score

    if len(c) == 0:
        return float("nan")
    if metric == "roc_auc":  # each row counts as a positive with weight c and a negative with weight 1 - c
        y = np.r_[np.ones(len(c)), np.zeros(len(c))]
        return float(roc_auc_score(y, np.r_[p_model, p_model], sample_weight=np.r_[c, 1.0 - c]))
    if metric == "accuracy":
        return float(np.mean(np.where(predicted_positive, c, 1.0 - c)))
    if metric == "f1":
        tp = float(c[predicted_positive].sum())
        fp = float((1.0 - c[predicted_positive]).sum())
        fn = float(c[~predicted_positive].sum())
        return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else float("nan")
    if metric == "log_loss":
        p = np.clip(p_model, _EPS, 1 - _EPS)
        return float(-np.mean(c * np.log(p) + (1.0 - c) * np.log(1.0 - p)))
    raise ValueError(f"no estimate for metric {metric!r}; supported: {SUPPORTED}")


def estimate(spec: DatasetSpec, cal: Calibration, proba: np.ndarray, classes: list[str]) -> float | None:
    """Estimated primary metric of outputs ``proba`` (columns in ``classes`` order); None when unsupported."""
    if spec.metric.name not in SUPPORTED or len(proba) == 0:
        return None
    if cal.per_class:  # multi-class: the columns in the calibration's class order
        if sorted(classes) != sorted(cal.classes):
            return None
        ordered = proba[:, [classes.index(c) for c in cal.classes]]
        return expected_multiclass_metric(spec.metric.name, ordered, cal.calibrated_matrix(ordered))
    if len(classes) != 2 or cal.positive not in classes:
        return None
    p = proba[:, classes.index(cal.positive)]
    predicted_positive = np.asarray(classes, dtype=object)[proba.argmax(axis=1)] == cal.positive
    return expected_metric(spec.metric.name, p, cal.calibrated(p), predicted_positive)


def estimate_outputs(spec: DatasetSpec, cal: Calibration, outputs: list[dict[str, Any]]) -> float | None:
    """Estimated primary metric of stored outputs (``{class: p}`` dicts, as the service logs them)."""
    if not outputs:
        return None
    classes = [str(k) for k in outputs[0]]
    proba = np.array([[float(o[k]) for k in classes] for o in outputs], dtype=float)
    return estimate(spec, cal, proba, classes)
