"""Prefect task wrappers of the training stages (the logic lives in the modules they call)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from driftgate.spec import DatasetSpec
from driftgate.tasks.explain import explain_sample
from driftgate.tasks.explain_report import log_explanation, plots, report_html
from driftgate.tasks.gate import GateResult, gate
from driftgate.tasks.metrics import slice_metrics
from driftgate.tasks.model_run import TrainedVersion, TrainingData, train_and_register
from driftgate.tasks.train import SearchSettings, split_xy


def _key(*parts: object) -> str:
    return "-".join(str(p) for p in parts).lower().replace("_", "-").replace(".", "-")


@task(name="train-model", task_run_name="train-{spec.name}-batch-{batch}", cache_policy=NO_CACHE)
def train_task(
    client: MlflowClient,
    experiment: str,
    spec: DatasetSpec,
    model_name: str,
    data: TrainingData,
    cfg: SearchSettings,
    trigger: list[str],
    batch: int,
) -> tuple[TrainedVersion, Any]:
    return train_and_register(client, experiment, spec, model_name, data, cfg, trigger, batch)


@task(name="champion-gate", task_run_name="gate-{spec.name}-v{version}", cache_policy=NO_CACHE)
def gate_task(
    client: MlflowClient,
    spec: DatasetSpec,
    model_name: str,
    version: str,
    model: Any,
    run_id: str,
    rows: pd.DataFrame,
    margin: float,
) -> GateResult:
    result = gate(client, spec, model_name, version, model, run_id, rows, margin)
    mv = client.get_model_version(model_name, version)
    client.update_model_version(model_name, version, description=f"{mv.description or ''}\nGate: {result.reason}")
    links = "\n".join(f"- {name}: {url}" for name, url in run_links(client, run_id, version).items())
    create_markdown_artifact(f"{result.to_markdown()}\n\n{links}\n", key=_key("gate", spec.name, "v", version))
    return result


def run_links(client: MlflowClient, run_id: str, version: str) -> dict[str, str]:
    """Where a person finds the version: its MLflow run and its SHAP report page on the service."""
    from driftgate.settings import get_settings

    s = get_settings()
    uri = s.resolved_tracking_uri()
    experiment = client.get_run(run_id).info.experiment_id
    run = (f"{uri.rstrip('/')}/#/experiments/{experiment}/runs/{run_id}" if uri.startswith("http")
           else f"runs:/{run_id} (mlflow ui --backend-store-uri {uri})")  # fmt: skip
    return {"MLflow run": run, "SHAP report": f"http://{s.serve_host}:{s.serve_port}/reports/{version}"}


@task(name="explain-model", task_run_name="explain-{spec.name}-v{trained.version}", cache_policy=NO_CACHE)
def explain_task(
    spec: DatasetSpec,
    trained: TrainedVersion,
    model: Any,
    data: TrainingData,
    gate_result: GateResult,
    max_rows: int,
    max_seconds: float,
    seed: int,
) -> dict[str, float]:
    """SHAP on the version's test rows; runs after the gate so it never delays promotion."""
    ex = explain_sample(model, spec, data.test, max_rows, max_seconds, seed)
    images = plots(ex)
    X, y = split_xy(data.test, spec)
    page = report_html(
        title=f"{trained.name} version {trained.version}",
        ex=ex,
        images=images,
        metrics=trained.metrics,
        slices=slice_metrics(model, spec, X, y),
        lineage=[asdict(b) for b in data.batches],
        trigger="; ".join(_trigger(trained)),
        gate=gate_result.reason,
    )
    with mlflow.start_run(run_id=trained.run_id):
        log_explanation(ex, images, page)
    return ex.importance()


def _trigger(trained: TrainedVersion) -> list[str]:
    run = mlflow.get_run(trained.run_id)
    return [run.data.tags.get("driftgate.trigger", "")]
