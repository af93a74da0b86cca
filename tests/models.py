"""Real models in a real (temp, SQLite) MLflow registry, trained quickly on the synthetic data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from driftgate.spec import DatasetSpec
from driftgate.synthetic import make_frame
from tasks.model_run import SKOPS_TRUSTED
from tasks.registry import set_champion
from tasks.train import build_pipeline, split_xy


def training_rows(spec: DatasetSpec, seed: int, n: int = 1500) -> pd.DataFrame:
    from driftgate.frames import normalize

    return normalize(make_frame(spec.task, n, seed=seed)[spec.columns], spec)  # type: ignore[arg-type]


def register_version(spec: DatasetSpec, name: str, seed: int, max_iter: int = 30) -> tuple[str, Any]:
    """Fit a small pipeline on synthetic rows and register it (signature + input example)."""
    rows = training_rows(spec, seed)
    X, y = split_xy(rows, spec)
    est: Any = (
        HistGradientBoostingClassifier(max_iter=max_iter, random_state=seed)
        if spec.task == "classification"
        else HistGradientBoostingRegressor(max_iter=max_iter, random_state=seed)
    )
    model = build_pipeline(spec, est, scale=False).fit(X, y)
    example = X.head(5)
    output = model.predict_proba(example) if spec.task == "classification" else model.predict(example)
    experiment = mlflow.set_experiment(f"tests-{spec.name}")
    with mlflow.start_run(experiment_id=experiment.experiment_id):
        mlflow.log_metric("test_score", float(seed))
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(example, output),
            input_example=example,
            registered_model_name=name,
            skops_trusted_types=SKOPS_TRUSTED,
        )
    return str(info.registered_model_version), model


def break_version(client: MlflowClient, name: str, version: str) -> Path:
    """Corrupt a version's stored model file (a real broken artifact, not a mock)."""
    mv = client.get_model_version(name, version)
    model_id = mv.model_id or mv.source.removeprefix("models:/")
    location = client.get_logged_model(model_id).artifact_location
    source = Path(location.removeprefix("file://"))
    broken = list(source.rglob("model.skops")) or list(source.rglob("model.pkl"))
    assert broken, f"no model file under {source}"
    for p in broken:
        p.write_bytes(b"this is not a model")
    return source


def promote(client: MlflowClient, name: str, version: str) -> None:
    set_champion(client, name, version)
