"""Register a small, real model without the search: for benchmarks, smoke tests and fixtures."""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from driftgate.spec import DatasetSpec
from driftgate.tasks.model_run import log_and_register
from driftgate.tasks.train import build_pipeline, split_xy


def register_quick_model(
    spec: DatasetSpec, name: str, rows: pd.DataFrame, seed: int = 0, max_iter: int = 30
) -> tuple[str, Any]:
    """Fit spec pipeline + gradient boosting on ``rows``, log it with signature and input example, register it.

    Returns the registered version and the fitted pipeline.
    """
    X, y = split_xy(rows, spec)
    est: Any = (
        HistGradientBoostingClassifier(max_iter=max_iter, random_state=seed)
        if spec.task == "classification"
        else HistGradientBoostingRegressor(max_iter=max_iter, random_state=seed)
    )
    model = build_pipeline(spec, est, scale=False).fit(X, y)
    experiment = mlflow.set_experiment(f"quick-{spec.name}")
    with mlflow.start_run(experiment_id=experiment.experiment_id):
        mlflow.log_param("seed", seed)
        mlflow.log_metric("test_score", float(seed))
        version = log_and_register(model, spec, name, X.head(5))
    return version, model
