"""The MLflow run of a retrain past one machine: fit on the cluster, evaluate per partition, log, register.

The run records what :func:`driftgate.tasks.train._run.train_and_register` records (family, params,
window, lineage tag, trigger, validation and test metrics, a signature from the spec) so the gate,
the reports and the service read it the same way; the training dataset logged is the encoders'
sample (the window's rows never come to this process).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mlflow
from mlflow.tracking import MlflowClient
from prefect import task
from prefect.cache_policies import NO_CACHE

from driftgate.dataset.spec import DatasetSpec
from driftgate.tasks.train._dask_window import DaskWindow, sample_rows
from driftgate.tasks.train._distributed import (
    FAMILY,
    DistributedSettings,
    fit_on_cluster,
    split_metrics,
)
from driftgate.tasks.train._run import TrainedVersion, TrainingData, log_and_register, run_tags

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)


@dataclass
class ClusterTraining:
    """A version trained on the cluster, its local model, and the samples the next stages read.

    ``samples`` holds the encoders' training sample and a seeded sample of the test rows (SHAP's rows),
    never the window.
    """

    trained: TrainedVersion
    model: Pipeline
    samples: TrainingData


def train_and_register_on_cluster(
    client: MlflowClient,
    experiment_id: str,
    spec: DatasetSpec,
    model_name: str,
    window: DaskWindow,
    cfg: DistributedSettings,
    trigger: list[str],
    batch_label: int,
    *,
    dask_client: Client,
    sample_test_rows: int = 2000,
) -> ClusterTraining:
    """Fit on the cluster, score validation and test rows per partition, log and register one version.

    Args:
        dask_client: a client of the cluster the window's partitions are read and trained on.
        sample_test_rows: seeded test rows brought back for SHAP (``Settings.explain_rows`` is the usual choice).
    """
    numbers = [b.number for b in window.batches]
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"train-{spec.name}-batch-{batch_label}") as run:
        fitted = fit_on_cluster(dask_client, spec, window, cfg)
        metrics = split_metrics(dask_client, spec, window, fitted.model)
        mlflow.log_params(
            {
                "family": FAMILY,
                **fitted.params,
                "train_rows": fitted.train_rows,
                "encoder_sample_rows": len(fitted.sample),
                "window": ",".join(map(str, numbers)),
            }
        )
        mlflow.log_metrics({"refit_seconds": fitted.fit_seconds, **{k: v for k, v in metrics.items() if v == v}})
        mlflow.set_tags({**run_tags(spec, window.batches, trigger), "driftgate.trained_on": "dask"})
        version = log_and_register(
            fitted.model,
            spec,
            model_name,
            fitted.sample[spec.feature_names].head(5),
            rows=fitted.sample,
            batches=list(window.batches),
            rows_name="-encoder-sample",
            requirements=("lightgbm",),
        )
    client.update_model_version(
        model_name,
        version,
        description=f"{FAMILY} trained on the Dask cluster on batches {', '.join(map(str, numbers))} "
        f"({fitted.train_rows} training rows); triggered by: {'; '.join(trigger)}",
    )
    test = sample_rows(window.split("test"), sample_test_rows, of=window.split_rows.get("test", 0), seed=cfg.seed)
    samples = TrainingData(fitted.sample, test.head(0), test, test, list(window.batches))
    trained = TrainedVersion(model_name, version, run.info.run_id, FAMILY, fitted.params, metrics)
    log.info("%s: version %s trained on the cluster: %s", model_name, version, metrics)
    return ClusterTraining(trained, fitted.model, samples)


# --- Prefect wrappers ------------------------------------------------------------------


train_on_cluster_task = task(
    name="train-model-on-cluster", task_run_name="train-{spec.name}-batch-{batch_label}-dask", cache_policy=NO_CACHE
)(train_and_register_on_cluster)
