"""The one predict function: a fitted pipeline's output turned into predictions.

Every consumer (the service, batch scoring, metrics, the gate) goes through :func:`predict`, so
a classifier's label is always the arg-max class of the same probabilities it reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Predictions:
    """Predictions for a frame: labels or values, and class probabilities for classifiers.

    Attributes:
        values: one label (classification, as the model's class) or one float (regression) per row.
        proba: ``(rows, classes)`` probabilities, columns in ``classes`` order; None for regressors.
        classes: the model's classes (``model.classes_``) as given; empty for regressors.
    """

    values: np.ndarray
    proba: np.ndarray | None
    classes: list[Any]

    def labels(self) -> list[Any]:
        """Plain Python values (JSON-ready): class labels as str, regression values as float."""
        if self.proba is None:
            return [float(v) for v in self.values]
        return [str(v) for v in self.values]

    def probability_dicts(self) -> list[dict[str, float]] | None:
        """One ``{class: probability}`` per row (classifiers), else None."""
        if self.proba is None:
            return None
        names = [str(c) for c in self.classes]
        return [dict(zip(names, map(float, row), strict=True)) for row in self.proba]


def predict(model: Any, task: str, X: pd.DataFrame) -> Predictions:
    """Score ``X`` with ``model`` (a fitted scikit-learn pipeline).

    Args:
        model: fitted estimator with ``predict`` (and ``predict_proba`` for classifiers).
        task: ``"classification"`` or ``"regression"`` (the dataset spec's task).
        X: model input, the spec's feature columns.

    Returns:
        The predictions; for classifiers the label is the arg-max of the returned probabilities.
    """
    if task == "classification":
        proba = np.asarray(model.predict_proba(X), dtype=float)
        classes = list(model.classes_)
        values = np.asarray(classes, dtype=object)[proba.argmax(axis=1)] if len(proba) else np.array([], dtype=object)
        return Predictions(values=values, proba=proba, classes=classes)
    return Predictions(values=np.asarray(model.predict(X), dtype=float), proba=None, classes=[])
