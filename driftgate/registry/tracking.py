"""Point MLflow at driftgate's tracking store and find the experiment of a dataset."""

from __future__ import annotations

import logging

import mlflow
from mlflow.tracking import MlflowClient

from driftgate.settings import Settings

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
