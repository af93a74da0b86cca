"""Register a small, real model without the search: for benchmarks, smoke tests and fixtures (never the loop).

Its metrics are measured on held-out rows (a seeded 25 % of ``rows`` it never trained on).
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split

from driftgate.dataset.spec import DatasetSpec
from driftgate.tasks.evaluate import evaluate
from driftgate.tasks.train import build_pipeline, log_and_register, split_xy


def experiment_id(name: str) -> str:
    """The experiment ``name`` (created when missing), without making it the process's active one.

    ``mlflow.set_experiment`` would: a later ``mlflow.start_run(run_id=...)`` of a run in another
    experiment (the gate's, in the same test process) then fails.
    """
    found = mlflow.get_experiment_by_name(name)
    return found.experiment_id if found is not None else mlflow.create_experiment(name)


def register_quick_model(
    spec: DatasetSpec, name: str, rows: pd.DataFrame, seed: int = 0, max_iter: int = 30
) -> tuple[str, Any]:
    """Fit spec pipeline + gradient boosting on 75 % of ``rows``, score the rest, log and register it.

    Returns:
        The registered version and the fitted pipeline; the run holds ``test_<metric>`` for every
        metric of the task, measured on the held-out 25 %.
    """
    X, y = split_xy(rows, spec)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed)
    est: Any = (
        HistGradientBoostingClassifier(max_iter=max_iter, random_state=seed)
        if spec.task == "classification"
        else HistGradientBoostingRegressor(max_iter=max_iter, random_state=seed)
    )
    model = build_pipeline(spec, est, scale=False).fit(X_train, y_train)
    with mlflow.start_run(experiment_id=experiment_id(f"quick-{spec.name}")):
        mlflow.log_params({"seed": seed, "max_iter": max_iter, "train_rows": len(X_train), "test_rows": len(X_test)})
        metrics = evaluate(model, spec, X_test, y_test)
        mlflow.log_metrics({f"test_{k}": v for k, v in metrics.items() if v == v})
        version = log_and_register(model, spec, name, X_train.head(5))
    return version, model
