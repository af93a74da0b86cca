"""A model service on 127.0.0.1 over a temp MLflow registry holding real synthetic-classification models."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from driftgate.settings import Settings, get_settings
from driftgate.spec import DatasetSpec, load_spec
from driftgate.tracking import configure_mlflow
from tests.conftest import ROOT

DATASET = "synthetic-classification"
API_KEY = "test-admin-key"


@dataclass
class Registry:
    client: MlflowClient
    spec: DatasetSpec
    name: str
    settings: Settings


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    monkeypatch.setenv("DRIFTGATE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DRIFTGATE_DATASETS_DIR", str(ROOT / "datasets"))
    monkeypatch.setenv("DRIFTGATE_DATASET", DATASET)
    monkeypatch.setenv("DRIFTGATE_POLL_SECONDS", "0.3")
    monkeypatch.setenv("DRIFTGATE_MAX_RECORDS", "50")
    monkeypatch.setenv("DRIFTGATE_ADMIN_API_KEY", API_KEY)
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    spec = load_spec(DATASET, settings.datasets_dir)
    yield Registry(configure_mlflow(settings), spec, spec.model_name, settings)
    get_settings.cache_clear()


def record(**overrides: object) -> dict[str, object]:
    """A valid synthetic-classification record."""
    base: dict[str, object] = {"num_0": 0.1, "num_1": -0.3, "num_2": 1.2, "num_3": 0.0, "cat_0": "a", "cat_1": "b"}
    base.update(overrides)
    return base
