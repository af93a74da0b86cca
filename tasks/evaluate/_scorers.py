"""Metrics as functions of bootstrap weights: ``W[b, i]`` = how often resample ``b`` drew row ``i``.

Most metrics are sums of per-row statistics (:class:`Additive`), so all resamples of both models
are one matrix product. ROC AUC is computed from tie groups of the sorted scores (the
Mann-Whitney form), so ties and repeated rows count exactly as in
:func:`sklearn.metrics.roc_auc_score`. Every point value equals scikit-learn's on the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from driftgate.models.predict import Predictions

Scorer = Callable[[np.ndarray], np.ndarray]  # weights (resamples, rows) -> score per resample


@dataclass(frozen=True)
class Additive:
    """A metric that is a function of weighted column sums of per-row statistics (most metrics are).

    All groups and both models then go through one matrix product per chunk of resamples.
    """

    stats: np.ndarray  # (rows, k) per-row statistics
    combine: Callable[[np.ndarray], np.ndarray]  # column sums (resamples, k) -> metric (resamples,)

    def __call__(self, W: np.ndarray) -> np.ndarray:
        return self.combine(W @ self.stats)


def _mean(per_row: np.ndarray) -> Additive:
    return Additive(np.c_[per_row, np.ones_like(per_row)], lambda t: t[:, 0] / t[:, 1])


def _auc(positive: np.ndarray, score: np.ndarray) -> Scorer:
    """Weighted Mann-Whitney AUC: ties between a positive and a negative count one half."""
    order = np.argsort(score, kind="stable")
    s, p = score[order], positive[order].astype(float)
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]]) if len(s) else np.array([0])

    def f(W: np.ndarray) -> np.ndarray:
        Ws = W[:, order]
        pos = np.add.reduceat(Ws * p, starts, axis=1)
        neg = np.add.reduceat(Ws * (1.0 - p), starts, axis=1)
        below = np.cumsum(neg, axis=1) - neg
        with np.errstate(invalid="ignore", divide="ignore"):
            return (pos * (below + 0.5 * neg)).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))

    return f


def _f1(truth: np.ndarray, predicted: np.ndarray) -> Additive:
    """F1 from true positives, false positives and false negatives (macro: three columns per class)."""
    k = truth.shape[1]
    stats = np.concatenate([truth & predicted, ~truth & predicted, truth & ~predicted], axis=1).astype(float)

    def combine(t: np.ndarray) -> np.ndarray:
        tp, fp, fn = t[:, :k], t[:, k : 2 * k], t[:, 2 * k :]
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.nan_to_num(2 * tp / (2 * tp + fp + fn), nan=0.0)  # no positives at all: 0, as sklearn
        return f1.mean(axis=1)

    return Additive(stats, combine)


def scorer(metric: str, y: np.ndarray, pred: Predictions, positive: object = None) -> Scorer:
    """The metric of ``pred`` against ``y`` as a function of resample weights.

    Args:
        metric: one of the spec's metric names (rmse, mae, r2, roc_auc, f1, accuracy, log_loss).
        y: true targets, one per row.
        pred: the model's stored predictions for the same rows.
        positive: the scored class of a binary classifier (default: the last class).

    Returns:
        A function from weights ``(resamples, rows)`` to the metric of each resample.
    """
    if metric in ("rmse", "mae", "r2"):
        yf, err = y.astype(float), pred.values.astype(float) - y.astype(float)
        if metric == "rmse":
            return Additive(_mean(err**2).stats, lambda t: np.sqrt(t[:, 0] / t[:, 1]))
        if metric == "mae":
            return _mean(np.abs(err))

        def r2(t: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore", divide="ignore"):
                return 1.0 - t[:, 0] / (t[:, 2] - t[:, 1] ** 2 / t[:, 3])

        return Additive(np.c_[err**2, yf, yf**2, np.ones_like(yf)], r2)
    if pred.proba is None:
        raise ValueError(f"metric {metric!r} needs class probabilities; the predictions have none")
    truth, classes = y.astype(str), [str(c) for c in pred.classes]
    pos = str(positive) if positive is not None else classes[-1]
    if metric == "accuracy":
        return _mean((pred.values.astype(str) == truth).astype(float))
    if metric == "log_loss":
        col = {c: i for i, c in enumerate(classes)}
        index = np.array([col.get(t, -1) for t in truth])
        p_true = np.where(index >= 0, pred.proba[np.arange(len(truth)), np.maximum(index, 0)], 0.0)
        return _mean(-np.log(np.clip(p_true, np.finfo(float).eps, 1.0)))
    scored = [pos] if len(classes) == 2 else classes  # macro average over classes otherwise
    if metric == "f1":
        labels = pred.values.astype(str)
        return _f1(np.c_[[truth == c for c in scored]].T, np.c_[[labels == c for c in scored]].T)
    if metric != "roc_auc":
        raise ValueError(f"unknown metric {metric!r}")
    parts = [_auc(truth == c, pred.proba[:, classes.index(c)]) for c in scored]
    return lambda W: np.mean([f(W) for f in parts], axis=0)
