"""Real models in a real (temp, SQLite) MLflow registry, trained quickly on the synthetic data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.tracking import MlflowClient

from driftgate.dataset.spec import DatasetSpec
from driftgate.dataset.synthetic import make_frame
from driftgate.local.quick_model import register_quick_model


def training_rows(spec: DatasetSpec, seed: int, n: int = 1500) -> pd.DataFrame:
    from driftgate.dataset.frames import normalize

    return normalize(make_frame(spec.task, n, seed=seed)[spec.columns], spec)  # type: ignore[arg-type]


def register_version(spec: DatasetSpec, name: str, seed: int) -> tuple[str, Any]:
    """A small real model on synthetic rows of ``seed``, registered with metrics on held-out rows."""
    return register_quick_model(spec, name, training_rows(spec, seed), seed=seed)


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


def explain_version(client: MlflowClient, spec: DatasetSpec, name: str, version: str, model: Any, seed: int) -> None:
    """Log a version's SHAP explanation the way the training flow does (real SHAP, real artifacts)."""
    import mlflow

    from driftgate.tasks.explain import explain_sample, log_explanation, plots, report_html

    rows = training_rows(spec, seed + 100, n=300)
    ex = explain_sample(model, spec, rows, max_rows=200, max_seconds=30, seed=seed)
    images = plots(ex)
    mv = client.get_model_version(name, version)
    page = report_html(
        title=f"{name} version {version}",
        ex=ex,
        images=images,
        metrics={"test_score": float(seed)},
        slices=[],
        lineage=[],
        trigger="test",
        gate="test",
    )
    with mlflow.start_run(run_id=mv.run_id):
        log_explanation(ex, images, page)
