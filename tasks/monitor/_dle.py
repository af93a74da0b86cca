"""Estimated performance before labels arrive (regressors): direct loss estimation, as NannyML's DLE.

CBPE reads a classifier's own probabilities; a regressor says nothing of how sure it is. So a
second model learns it: on the champion's held-out rows (labelled, never trained on) a gradient-
boosting regressor is fitted from the champion's encoded inputs and its prediction to each row's
absolute error, and another to its squared error. On unlabelled live rows their mean predictions
estimate MAE, and the square root of the squared one RMSE. Where the live inputs move into regions
where the champion errs more (covariate shift), the estimate rises before any label arrives; a change
of the relation itself (concept drift) it cannot see, which is what realized performance is for.

The band is where the realized metric of those live rows should fall (95 %), from two sources of
error added in quadrature:

- the rows' own noise: each row's loss varies around its expected value; the two loss models give
  that spread row by row (the variance of |error| is E[error^2] - E[|error|]^2; that of error^2 is
  2 E[error^2]^2, as for normal errors), divided by the number of rows;
- the loss models' error: :data:`BOOTSTRAP` more pairs of loss models, each fitted on a bootstrap
  resample of the held-out rows, estimate the same rows; their spread is the estimate's own noise.

The first alone (the band of the first version: the held-out rows' overall spread) covered the
realized RMSE of a shifted batch in 9 of 20 seeded runs, since it ignored the loss models' error and
the larger spread where the inputs moved; with both, 19 of 20 (``tests/unit/test_dle.py``). For RMSE
the band is the square root of the mean squared error's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from driftgate.dataset.spec import DatasetSpec
from driftgate.models.predict import predict

SUPPORTED = ("mae", "rmse")
Z = 1.96
MIN_ROWS = 100  # held-out rows below which no loss model is fitted
BOOTSTRAP = 10  # loss-model pairs fitted on resampled held-out rows: the spread of their estimates


@dataclass(frozen=True)
class LossEstimate:
    """An estimated metric on unlabelled rows, with its band."""

    metric: str
    value: float
    low: float
    high: float
    rows: int


@dataclass(frozen=True)
class LossModel:
    """The champion's per-row absolute and squared errors, learned on its held-out rows."""

    absolute: Any
    squared: Any
    rows: int  # held-out rows it was fitted on
    absolute_std: float  # spread of the held-out rows' absolute errors
    squared_std: float
    held_out_mae: float  # realized on the held-out rows, for reference
    held_out_rmse: float
    replicates: tuple[tuple[Any, Any], ...] = ()  # (absolute, squared) fitted on bootstrap resamples

    def estimate(self, champion: Any, spec: DatasetSpec, X: pd.DataFrame, metric: str) -> LossEstimate | None:
        """Estimated ``metric`` (mae or rmse) of ``champion`` on unlabelled rows ``X``; None when unsupported."""
        if metric not in SUPPORTED or len(X) == 0:
            return None
        z = _features(champion, spec, X)
        n = len(X)
        absolute = np.clip(self.absolute.predict(z), 0, None)
        squared = np.clip(self.squared.predict(z), 0, None)
        if metric == "mae":
            value = float(absolute.mean())
            rows_var = float(np.clip(squared - absolute**2, 0, None).mean()) / n
            others = [np.clip(a.predict(z), 0, None).mean() for a, _ in self.replicates]
        else:
            value = float(squared.mean())  # the mean squared error; the band is taken through its root
            rows_var = float((2 * squared**2).mean()) / n
            others = [np.clip(q.predict(z), 0, None).mean() for _, q in self.replicates]
        model_var = float(np.var(others, ddof=1)) if len(others) > 1 else 0.0
        half = Z * float(np.sqrt(rows_var + model_var))
        low, high = max(value - half, 0.0), value + half
        if metric == "mae":
            return LossEstimate(metric, value, low, high, n)
        return LossEstimate(metric, float(np.sqrt(value)), float(np.sqrt(low)), float(np.sqrt(high)), n)


def _features(champion: Any, spec: DatasetSpec, X: pd.DataFrame) -> np.ndarray:
    """The loss model's inputs: the champion's encoded columns and its prediction."""
    frame = X[spec.feature_names]
    encoded = np.asarray(champion.named_steps["pre"].transform(frame), dtype=float)
    prediction = predict(champion, "regression", frame).values.reshape(-1, 1)
    return np.hstack([encoded, prediction])


def fit_loss_model(champion: Any, spec: DatasetSpec, held_out: pd.DataFrame, *, seed: int) -> LossModel | None:
    """Fit the two loss models on labelled rows the champion never trained on; None below 100 rows.

    Args:
        champion: the champion's fitted pipeline (a ``pre`` step and a regressor).
        spec: the dataset spec (a regression task).
        held_out: labelled held-out rows (features and target).
        seed: the loss models' seed.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor

    rows = held_out.dropna(subset=[spec.target])
    if spec.task != "regression" or len(rows) < MIN_ROWS:
        return None
    z = _features(champion, spec, rows)
    error = rows[spec.target].to_numpy(dtype=float) - z[:, -1]
    absolute, squared = np.abs(error), error**2

    def regressor() -> HistGradientBoostingRegressor:
        # shallow and smooth: a loss is noisy, and a model that learns its noise estimates nothing
        return HistGradientBoostingRegressor(
            max_iter=100, learning_rate=0.05, max_leaf_nodes=8, min_samples_leaf=40, random_state=seed
        )

    rng = np.random.default_rng(seed)
    replicates = []
    for _ in range(BOOTSTRAP):
        take = rng.integers(0, len(z), len(z))
        replicates.append((regressor().fit(z[take], absolute[take]), regressor().fit(z[take], squared[take])))
    return LossModel(
        absolute=regressor().fit(z, absolute),
        squared=regressor().fit(z, squared),
        replicates=tuple(replicates),
        rows=len(rows),
        absolute_std=float(absolute.std(ddof=1)),
        squared_std=float(squared.std(ddof=1)),
        held_out_mae=float(absolute.mean()),
        held_out_rmse=float(np.sqrt(squared.mean())),
    )
