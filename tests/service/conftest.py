"""A model service on 127.0.0.1 over a temp MLflow registry holding real synthetic-classification models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from driftgate.dataset.spec import DatasetSpec, load_spec
from driftgate.registry.client import set_champion
from driftgate.registry.tracking import configure_mlflow
from driftgate.settings import Settings, get_settings
from tests.conftest import ROOT
from tests.homes import copy_state
from tests.models import explain_version, register_version

DATASET = "synthetic-classification"
API_KEY = "test-admin-key"


@dataclass
class Registry:
    client: MlflowClient
    spec: DatasetSpec
    name: str
    settings: Settings


def _use_home(mp: pytest.MonkeyPatch, home: Path) -> Registry:
    """Settings for a service over the registry in ``home``, and a client for it."""
    mp.setenv("DRIFTGATE_HOME", str(home))
    mp.setenv("DRIFTGATE_DATASETS_DIR", str(ROOT / "datasets"))
    mp.setenv("DRIFTGATE_DATASET", DATASET)
    mp.setenv("DRIFTGATE_POLL_SECONDS", "0.3")
    mp.setenv("DRIFTGATE_MAX_RECORDS", "50")
    mp.setenv("DRIFTGATE_ADMIN_API_KEY", API_KEY)
    mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    spec = load_spec(DATASET, settings.datasets_dir)
    return Registry(configure_mlflow(settings), spec, spec.model_name, settings)


def _template(factory: pytest.TempPathFactory, name: str, base: Path, build: Callable[[Registry], None]) -> Path:
    """A registry folder built once from a copy of ``base`` (``home/`` and, MLflow's default artifact
    root, ``mlruns/``)."""
    folder = copy_state(base, factory.mktemp(f"template-{name}"))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)  # experiments without an artifact location keep their artifacts in ./mlruns: here
        mp.setenv("MLFLOW_TRACKING_URI", "")  # recorded, so that the one MLflow exports is undone
        build(_use_home(mp, folder / "home"))
    get_settings.cache_clear()
    return folder


def _with_champion_v1(reg: Registry) -> None:
    version, _ = register_version(reg.spec, reg.name, seed=1)
    set_champion(reg.client, reg.name, version)


def _with_two_explained(reg: Registry) -> None:
    """Version 1 of the champion-v1 template explained, and an explained version 2 the champion."""
    from driftgate.registry.client import load_version

    explain_version(reg.client, reg.spec, reg.name, "1", load_version(reg.name, "1", reg.spec), 1)
    version, model = register_version(reg.spec, reg.name, seed=2)
    explain_version(reg.client, reg.spec, reg.name, version, model, 2)
    set_champion(reg.client, reg.name, "2")


@pytest.fixture(scope="session")
def champion_v1_template(empty_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _template(tmp_path_factory, "champion-v1", empty_store, _with_champion_v1)


@pytest.fixture(scope="session")
def explained_template(champion_v1_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _template(tmp_path_factory, "explained", champion_v1_template, _with_two_explained)


def _registry_from(
    template: Path, factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Registry]:
    """This test's own copy of a template registry (outside its tmp_path, as MLflow's ./mlruns was)."""
    state = copy_state(template, factory.mktemp("registry"))
    yield _use_home(monkeypatch, state / "home")
    get_settings.cache_clear()


@pytest.fixture
def registry(
    empty_store: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Registry]:
    """A registry of its own with no model yet (the store created once, copied per test)."""
    yield from _registry_from(empty_store, tmp_path_factory, monkeypatch)


@pytest.fixture
def champion_v1(
    champion_v1_template: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Registry]:
    """A registry of its own whose version 1 (seed 1) is the champion."""
    yield from _registry_from(champion_v1_template, tmp_path_factory, monkeypatch)


@pytest.fixture
def explained(
    explained_template: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Registry]:
    """A registry of its own with two explained versions, version 2 the champion."""
    yield from _registry_from(explained_template, tmp_path_factory, monkeypatch)


def record(**overrides: object) -> dict[str, object]:
    """A valid synthetic-classification record."""
    base: dict[str, object] = {"num_0": 0.1, "num_1": -0.3, "num_2": 1.2, "num_3": 0.0, "cat_0": "a", "cat_1": "b"}
    base.update(overrides)
    return base
