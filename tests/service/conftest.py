"""A model service on 127.0.0.1 over a temp MLflow registry holding real synthetic-classification models."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from driftgate.registry import set_champion
from driftgate.settings import Settings, get_settings
from driftgate.spec import DatasetSpec, load_spec
from driftgate.tracking import configure_mlflow
from tests.conftest import ROOT
from tests.models import explain_version, register_version

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


@pytest.fixture
def explained(registry: Registry) -> Registry:
    """Two explained versions of the registry's model, version 2 the champion."""
    for seed in (1, 2):
        version, model = register_version(registry.spec, registry.name, seed=seed)
        explain_version(registry.client, registry.spec, registry.name, version, model, seed)
    set_champion(registry.client, registry.name, "2")
    return registry


def record(**overrides: object) -> dict[str, object]:
    """A valid synthetic-classification record."""
    base: dict[str, object] = {"num_0": 0.1, "num_1": -0.3, "num_2": 1.2, "num_3": 0.0, "cat_0": "a", "cat_1": "b"}
    base.update(overrides)
    return base
