"""The champion gate on real MLflow: first model promoted, better promoted, worse kept out; rollback; Dask search."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from driftgate.registry import CHALLENGER, champion_version, rollback
from driftgate.settings import get_settings
from driftgate.spec import load_spec
from driftgate.tasks.gate import gate
from driftgate.tracking import configure_mlflow
from tests.conftest import ROOT
from tests.models import training_rows
from tests.quick_model import register_quick_model

SPEC = load_spec("synthetic-regression", ROOT / "datasets")


@pytest.fixture
def client(driftgate_env: Path) -> MlflowClient:
    return configure_mlflow(get_settings())


def test_first_model_is_promoted_a_better_one_too_a_worse_one_is_registered_but_not(client: MlflowClient) -> None:
    name = SPEC.model_name
    held_out = training_rows(SPEC, seed=99, n=1000)
    weak_rows = training_rows(SPEC, seed=1, n=60)
    strong_rows = training_rows(SPEC, seed=2, n=3000)

    v1, m1 = register_quick_model(SPEC, name, weak_rows, seed=1, max_iter=5)
    first = gate(client, SPEC, name, v1, m1, client.get_model_version(name, v1).run_id, held_out, 0.0)
    assert first.promoted
    assert first.champion_score is None
    assert str(champion_version(client, name).version) == v1

    v2, m2 = register_quick_model(SPEC, name, strong_rows, seed=2, max_iter=100)
    better = gate(client, SPEC, name, v2, m2, client.get_model_version(name, v2).run_id, held_out, 0.0)
    assert better.promoted, better.reason
    assert better.challenger_score < better.champion_score  # RMSE: lower is better, on the same rows
    assert str(champion_version(client, name).version) == v2

    v3, m3 = register_quick_model(SPEC, name, weak_rows, seed=3, max_iter=3)
    worse = gate(client, SPEC, name, v3, m3, client.get_model_version(name, v3).run_id, held_out, 0.0)
    assert not worse.promoted
    assert "does not beat" in worse.reason
    assert str(champion_version(client, name).version) == v2  # the champion stays
    assert str(client.get_model_version_by_alias(name, CHALLENGER).version) == v3  # registered, marked challenger
    run = client.get_run(client.get_model_version(name, v3).run_id)
    assert run.data.tags["driftgate.gate.promoted"] == "False"
    assert run.data.metrics[f"gate_champion_{SPEC.metric.name}"] == pytest.approx(worse.champion_score)

    # a margin makes a barely-better challenger wait
    v4, m4 = register_quick_model(SPEC, name, strong_rows, seed=2, max_iter=100)
    same = gate(client, SPEC, name, v4, m4, client.get_model_version(name, v4).run_id, held_out, 0.05)
    assert not same.promoted

    assert rollback(client, name) == v1
    assert str(champion_version(client, name).version) == v1
