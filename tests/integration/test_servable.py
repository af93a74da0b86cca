"""Never promote what cannot be served: the signature is the spec's, and the alias moves only to a version that loads.

Real parts: MLflow on SQLite in a temp folder, the safe loader, the Prefect harness, the data API and
the model service on 127.0.0.1.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from driftgate.dataset.spec import DatasetSpec, load_spec
from driftgate.errors import ModelLoadError, ModelRegistryError
from driftgate.local.quick_model import experiment_id, register_quick_model
from driftgate.models.model_loader import check_servable, load_registered
from driftgate.policies import GatePolicy
from driftgate.registry.client import champion_version, promote, rollback, set_champion
from driftgate.registry.tracking import configure_mlflow
from driftgate.settings import get_settings
from driftgate.tasks.gate import gate
from driftgate.tasks.train import build_pipeline, log_and_register, split_xy
from tests.conftest import ROOT, ServerThread, wait_ready
from tests.models import training_rows

DATASET = "synthetic-classification"
SPEC = load_spec(DATASET, ROOT / "datasets")
POLICY = GatePolicy(margin=0.0, confidence=0.95, slice_min_rows=100, resamples=200, seed=0)


@pytest.fixture
def client(mlflow_home: Path) -> MlflowClient:
    return configure_mlflow(get_settings())


def without_cat_1(spec: DatasetSpec) -> DatasetSpec:
    """The spec after a person's edit: ``cat_1`` is now a key carried through, no longer a feature."""
    raw = spec.model_dump()
    raw["features"] = [f for f in raw["features"] if f["name"] != "cat_1"]
    raw["id_columns"] = ["cat_1"]
    return DatasetSpec.model_validate(raw)


def test_a_mostly_missing_column_keeps_the_spec_type_in_the_signature(client: MlflowClient) -> None:
    rows = training_rows(SPEC, seed=1, n=600)
    rows.loc[rows.index[: int(len(rows) * 0.97)], "cat_1"] = None  # 97 % missing, the first rows all empty
    X, y = split_xy(rows, SPEC)
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = build_pipeline(SPEC, HistGradientBoostingClassifier(max_iter=5), scale=False).fit(X, y)
    with mlflow.start_run(experiment_id=experiment_id("quick-missing")):
        version = log_and_register(model, SPEC, "missing-model", X.head(5))
    loaded = load_registered("missing-model", version, SPEC)  # the service's own load: no refusal
    assert loaded.columns == SPEC.feature_names


def register_with_sampled_signature(name: str) -> tuple[str, Any, str]:
    """A version whose signature was inferred from five rows where ``cat_1`` is empty (the old way): ``any``."""
    from mlflow.models import infer_signature
    from sklearn.ensemble import HistGradientBoostingClassifier

    from driftgate.models.model_loader import TRUSTED_TYPES

    rows = training_rows(SPEC, seed=2, n=800)
    rows.loc[rows.index[:5], "cat_1"] = None
    X, y = split_xy(rows, SPEC)
    model = build_pipeline(SPEC, HistGradientBoostingClassifier(max_iter=5), scale=False).fit(X, y)
    with mlflow.start_run(experiment_id=experiment_id("sampled")) as run:
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(X.head(5), model.predict_proba(X.head(5))),
            registered_model_name=name,
            serialization_format="skops",
            skops_trusted_types=list(TRUSTED_TYPES),
            pip_requirements=["scikit-learn"],
        )
    return str(info.registered_model_version), model, run.info.run_id


def test_the_gate_refuses_a_version_the_service_cannot_load_and_fails_its_run(client: MlflowClient) -> None:
    name = SPEC.model_name
    version, model, run_id = register_with_sampled_signature(name)
    with pytest.raises(ModelLoadError, match="'cat_1' as any, the spec as categorical"):
        gate(
            client,
            SPEC,
            name,
            version,
            model=model,
            run_id=run_id,
            rows=training_rows(SPEC, seed=9, n=600),
            policy=POLICY,
            batches=[1],
        )
    assert champion_version(client, name) is None  # never a champion
    run = client.get_run(run_id)
    assert run.info.status == "FAILED"
    assert "cat_1" in run.data.tags["driftgate.refused"]


def test_promote_refuses_and_rollback_skips_versions_that_no_longer_load(client: MlflowClient) -> None:
    name, edited = SPEC.model_name, without_cat_1(SPEC)
    rows = training_rows(SPEC, seed=3, n=800)
    v1, _ = register_quick_model(edited, name, rows, seed=1, max_iter=5)  # loads under the edited spec
    v2, _ = register_quick_model(SPEC, name, rows, seed=2, max_iter=5)  # trained before the edit
    v3, _ = register_quick_model(edited, name, rows, seed=3, max_iter=5)
    for v in (v1, v2, v3):
        set_champion(client, name, v)
    with pytest.raises(ModelLoadError, match="cat_1"):
        promote(client, name, v2, edited)
    assert rollback(client, name, edited) == v1  # v2 no longer loads: skipped
    assert str(champion_version(client, name).version) == v1
    with pytest.raises(ModelRegistryError, match="no previous champion"):
        rollback(client, name, edited)


def test_a_champion_broken_by_a_spec_edit_is_reported_replaced_by_run_and_served(
    prefect_harness: None, driftgate_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftgate.cli import app
    from driftgate.dataset.sources import load_source
    from driftgate.flows.training import continuous_training
    from driftgate.local.data_api import create_data_api
    from driftgate.serving.app import create_app

    datasets = tmp_path / "datasets"
    datasets.mkdir()
    spec_file = datasets / f"{DATASET}.yaml"
    shutil.copy(ROOT / "datasets" / f"{DATASET}.yaml", spec_file)
    monkeypatch.setenv("DRIFTGATE_DATASETS_DIR", str(datasets))
    monkeypatch.setenv("DRIFTGATE_DATASET", DATASET)
    monkeypatch.setenv("DRIFTGATE_TRAIN_WINDOW", "3")
    with ServerThread(create_data_api(load_source(SPEC), SPEC)) as api:
        monkeypatch.setenv("DRIFTGATE_DATA_API_URL", api.url)
        get_settings.cache_clear()
        first = continuous_training(max_batches=1)
        assert first[0].champion == "1"

        raw = yaml.safe_load(spec_file.read_text())  # the edit: cat_1 becomes a key, not a feature
        raw["features"] = [f for f in raw["features"] if f["name"] != "cat_1"]
        raw["id_columns"] = ["cat_1"]
        spec_file.write_text(yaml.safe_dump(raw))

        status = CliRunner().invoke(app, ["status"])
        assert status.exit_code == 0, status.output
        broken = [line for line in status.output.splitlines() if "does not load" in line]
        assert len(broken) == 1, status.output
        assert "champion 1 does not load" in broken[0]
        assert "cat_1" in broken[0]

        second = continuous_training(max_batches=1)
    assert second[0].reasons[0] == "no champion yet"
    assert second[0].gate == "promoted"
    client = configure_mlflow(get_settings())
    champ = champion_version(client, SPEC.model_name)
    edited = load_spec(DATASET, datasets)
    check_servable(SPEC.model_name, champ.version, edited)
    assert str(champ.version) == "2"

    with ServerThread(create_app(get_settings())) as srv:
        ready = wait_ready(srv.url)
        assert ready.status_code == 200, ready.text
        record = {"num_0": 0.1, "num_1": -0.3, "num_2": 1.2, "num_3": 0.0, "cat_0": "a"}
        answer = httpx.post(f"{srv.url}/predict", json={"records": [record]}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"]["version"] == "2"
