"""The safe loader against hostile artifacts: real MLflow on SQLite, real files, the real service.

Each hostile version is a real MLflow model folder (the good version's, with its MLmodel and
model file replaced) logged and registered like any other. Loading any of them would create a
marker file; the test proves that first with MLflow's own loader, then that driftgate never does.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pytest
import skops.io
import yaml

from driftgate.dataset.spec import load_spec
from driftgate.errors import ModelLoadError
from driftgate.local.quick_model import experiment_id
from driftgate.local.servers import ServerThread
from driftgate.models.model_loader import TRUSTED_TYPES, load_local
from driftgate.registry.client import load_version, set_champion
from driftgate.serving.app import create_app
from driftgate.tasks.train import FAMILIES, log_and_register, search_spaces, split_xy
from tests.conftest import ROOT
from tests.models import training_rows
from tests.service.conftest import Registry, record
from tests.service.test_service import _metric, served_version, wait_for


class PickleBomb:
    """Unpickling this touches ``marker`` (a stand-in for running any command)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


class SkopsBomb:
    """skops rebuilds objects through ``__setstate__``: constructing this type touches ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __getstate__(self) -> dict[str, str]:
        return {"marker": self.marker}

    def __setstate__(self, state: dict[str, str]) -> None:
        Path(state["marker"]).touch()
        self.__dict__.update(state)


BOMB_TYPE = f"{SkopsBomb.__module__}.SkopsBomb"


def craft(good: Path, dst: Path, edit: Callable[[dict[str, Any], Path], None]) -> Path:
    """A copy of a good model folder whose MLmodel (and files) ``edit`` changes."""
    import shutil

    shutil.copytree(good, dst)
    meta = yaml.safe_load((dst / "MLmodel").read_text())
    edit(meta, dst)
    (dst / "MLmodel").write_text(yaml.safe_dump(meta))
    return dst


def _flavor(meta: dict[str, Any]) -> dict[str, Any]:
    return meta["flavors"]["sklearn"]  # type: ignore[no-any-return]


def cloudpickled(marker: Path) -> Callable[[dict[str, Any], Path], None]:
    def edit(meta: dict[str, Any], folder: Path) -> None:
        (folder / "model.pkl").write_bytes(pickle.dumps(PickleBomb(marker)))
        (folder / "model.skops").unlink()
        _flavor(meta).update(pickled_model="model.pkl", serialization_format="cloudpickle")
        meta["flavors"]["python_function"]["model_path"] = "model.pkl"

    return edit


def skops_bomb(marker: Path, *, name_it: bool) -> Callable[[dict[str, Any], Path], None]:
    def edit(meta: dict[str, Any], folder: Path) -> None:
        (folder / "model.skops").write_bytes(skops.io.dumps(SkopsBomb(marker)))
        if name_it:  # the artifact asks to trust its own type, as MLflow's loader would
            _flavor(meta)["skops_trusted_types"] = [*TRUSTED_TYPES, BOMB_TYPE]

    return edit


def with_code(marker: Path) -> Callable[[dict[str, Any], Path], None]:
    def edit(meta: dict[str, Any], folder: Path) -> None:
        (folder / "code").mkdir()
        (folder / "code" / "sklearn.py").write_text(f"open({str(marker)!r}, 'w')\n")  # shadows a real import
        _flavor(meta)["code"] = "code"

    return edit


def string_typed(_: Path) -> Callable[[dict[str, Any], Path], None]:
    def edit(meta: dict[str, Any], folder: Path) -> None:
        meta["signature"]["inputs"] = meta["signature"]["inputs"].replace('"double"', '"string"', 1)

    return edit


HOSTILE = {
    "cloudpickle": (cloudpickled, "serialization format 'cloudpickle' is not skops"),
    "skops naming an extra trusted type": (
        lambda m: skops_bomb(m, name_it=True),
        "asks to trust types driftgate does not trust",
    ),
    "skops needing an untrusted type": (lambda m: skops_bomb(m, name_it=False), "needs types driftgate does not trust"),
    "code path": (with_code, "code path"),
    "signature off the spec": (string_typed, "the spec as numeric"),
}


@pytest.fixture
def good_folder(champion_v1: Registry, tmp_path: Path) -> Path:
    return Path(mlflow.artifacts.download_artifacts(f"models:/{champion_v1.name}/1", dst_path=str(tmp_path / "v1")))


def register_folder(reg: Registry, folder: Path) -> str:
    """Log a model folder as a run's artifact and register it: a real registry version."""
    with mlflow.start_run(experiment_id=experiment_id("hostile")) as run:
        mlflow.log_artifacts(str(folder), "model")
    mv = reg.client.create_model_version(reg.name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    return str(mv.version)


def test_the_hostile_artifacts_really_run_code_under_mlflows_own_loader(
    good_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards the other tests: without this, 'no marker' could mean a harmless artifact."""
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    for case in ("cloudpickle", "skops naming an extra trusted type"):
        marker = tmp_path / f"marker-{case.replace(' ', '-')}"
        folder = craft(good_folder, tmp_path / case.replace(" ", "-"), HOSTILE[case][0](marker))
        with pytest.raises(Exception):  # noqa: B017,PT011 - a bomb is no estimator; what matters is the marker
            mlflow.sklearn.load_model(str(folder)).predict(None)
        assert marker.exists(), case


@pytest.mark.parametrize("case", list(HOSTILE))
def test_the_loader_refuses_a_hostile_artifact_without_running_it(
    champion_v1: Registry, good_folder: Path, tmp_path: Path, case: str
) -> None:
    make, reason = HOSTILE[case]
    marker = tmp_path / "marker"
    folder = craft(good_folder, tmp_path / "hostile", make(marker))
    with pytest.raises(ModelLoadError, match="refused") as err:
        load_local(folder, champion_v1.spec, "model 'x' version 9")
    assert reason in str(err.value)
    assert str(tmp_path) not in str(err.value)
    assert not marker.exists()


def test_the_service_refuses_hostile_champions_and_keeps_serving_the_old_one(
    champion_v1: Registry, good_folder: Path, tmp_path: Path
) -> None:
    markers = {case: tmp_path / f"marker-{i}" for i, case in enumerate(HOSTILE)}
    versions = {
        case: register_folder(champion_v1, craft(good_folder, tmp_path / f"hostile-{i}", make(markers[case])))
        for i, (case, (make, _)) in enumerate(HOSTILE.items())
    }
    with ServerThread(create_app(champion_v1.settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        for case, version in versions.items():
            before = _metric(httpx.get(f"{srv.url}/metrics").text, "driftgate_model_reload_failures_total")
            set_champion(champion_v1.client, champion_v1.name, version)
            error = f"version {version} failed to load"
            assert wait_for(lambda v=error: v in (httpx.get(f"{srv.url}/ready").json()["last_reload_error"] or ""))
            ready = httpx.get(f"{srv.url}/ready")
            assert ready.status_code == 200
            assert ready.json()["version"] == "1", case
            assert HOSTILE[case][1] in ready.json()["last_reload_error"], case
            model = httpx.get(f"{srv.url}/model").json()
            assert model["version"] == "1"
            assert HOSTILE[case][1] in model["last_reload_error"]
            for text in (ready.text, httpx.get(f"{srv.url}/model").text):
                assert str(tmp_path) not in text
                assert str(champion_v1.settings.home) not in text
            r = httpx.post(f"{srv.url}/predict", json={"records": [record()]})
            assert r.status_code == 200
            assert r.json()["model"]["version"] == "1"
            after = _metric(httpx.get(f"{srv.url}/metrics").text, "driftgate_model_reload_failures_total")
            assert after > before, case
    assert not [c for c, m in markers.items() if m.exists()]


def test_the_flows_loader_refuses_a_pickled_version(champion_v1: Registry, good_folder: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    version = register_folder(champion_v1, craft(good_folder, tmp_path / "bad", cloudpickled(marker)))
    with pytest.raises(ModelLoadError, match="not skops"):
        load_version(champion_v1.name, version, champion_v1.spec)
    with pytest.raises(ModelLoadError, match="not skops"):
        load_version(champion_v1.name, version)  # callers without a spec get the same refusal
    assert not marker.exists()


@pytest.mark.parametrize("dataset", ["synthetic-classification", "synthetic-regression"])
def test_every_model_family_training_produces_loads_with_the_trusted_list(registry: Registry, dataset: str) -> None:
    spec = load_spec(dataset, ROOT / "datasets")
    X, y = split_xy(training_rows(spec, seed=3, n=300), spec)
    experiment = experiment_id(f"families-{dataset}")
    for family, (pipeline, _) in search_spaces(spec, seed=0, families=FAMILIES).items():
        model = pipeline.fit(X, y)
        with mlflow.start_run(experiment_id=experiment):
            version = log_and_register(model, spec, f"families-{dataset}", X.head(5))
        loaded = load_version(f"families-{dataset}", version, spec)
        assert type(loaded).__name__ == "Pipeline", family
        assert list(loaded.predict(X.head(3))) == list(model.predict(X.head(3))), family
    assert family == "linear"  # the last of FAMILIES: every family was registered and loaded
