"""What a search's joblib worker runs: one candidate's score over the folds.

The function travels to the worker by reference, so a new worker imports this module and what it
imports (numpy, scikit-learn's ``clone``): kept in the core, away from the training stage's package,
whose import (MLflow, Prefect, Dask, the search) cost each new worker ~10 s more at a load of 7
(14.1 s against 4.5 s for scikit-learn and LightGBM alone). Workers start again wherever joblib's
pool does: a search's first rung in a process, and every batch of ``driftgate backtest`` (it stops
them to count their CPU).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def score_candidate(
    estimator: Any,
    params: dict[str, Any],
    Xt: Any,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    rows: int,
    score: Any,
) -> float:
    """Mean test score of one candidate trained on the first ``rows`` of each split's training order."""
    from sklearn.base import clone

    results = []
    for order, test in splits:
        fit_rows = order[:rows]
        est = clone(estimator).set_params(**params).fit(Xt[fit_rows], y[fit_rows])
        results.append(float(score(est, Xt[test], y[test])))
    return float(np.mean(results))
