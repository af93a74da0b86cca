"""The champion gate on real MLflow: first model vs a baseline, better promoted, worse and equal kept out; rollback."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from driftgate.dataset.spec import load_spec
from driftgate.local.quick_model import register_quick_model
from driftgate.models.predict import predict
from driftgate.policies import GatePolicy
from driftgate.registry.client import CHALLENGER, champion_version, rollback
from driftgate.registry.tracking import configure_mlflow
from driftgate.settings import get_settings
from driftgate.tasks.evaluate import Outcome
from driftgate.tasks.gate import describe_gate, evaluate_challenger, gate
from driftgate.tasks.train import split_xy
from tests.conftest import ROOT
from tests.models import training_rows

SPEC = load_spec("synthetic-regression", ROOT / "datasets")
POLICY = GatePolicy(margin=0.0, confidence=0.95, slice_min_rows=100, resamples=500, seed=0)


@pytest.fixture
def client(driftgate_env: Path) -> MlflowClient:
    return configure_mlflow(get_settings())


@pytest.mark.training  # three models trained and gated
def test_first_model_is_promoted_a_better_one_too_a_worse_one_is_registered_but_not(client: MlflowClient) -> None:
    name = SPEC.model_name
    held_out = training_rows(SPEC, seed=99, n=2000)
    weak_rows = training_rows(SPEC, seed=1, n=60)
    strong_rows = training_rows(SPEC, seed=2, n=3000)

    v1, m1 = register_quick_model(SPEC, name, weak_rows, seed=1, max_iter=5)
    first = gate(
        client,
        SPEC,
        name,
        v1,
        model=m1,
        run_id=client.get_model_version(name, v1).run_id,
        rows=held_out,
        policy=POLICY,
        batches=[7, 8, 9],
    )
    assert first.outcome is Outcome.PROMOTED
    assert first.champion_score is None
    assert first.baseline_score is not None
    assert first.baseline_cleared, first.reason  # even a weak model beats predicting the mean
    assert first.challenger_score < first.baseline_score
    assert str(champion_version(client, name).version) == v1

    v2, m2 = register_quick_model(SPEC, name, strong_rows, seed=2, max_iter=100)
    better = gate(
        client,
        SPEC,
        name,
        v2,
        model=m2,
        run_id=client.get_model_version(name, v2).run_id,
        rows=held_out,
        policy=POLICY,
        batches=[7, 8, 9],
    )
    assert better.outcome is Outcome.PROMOTED, better.reason
    assert better.challenger_score < better.champion_score  # RMSE: lower is better, on the same rows
    assert better.ci_low < better.ci_high < 0  # the whole interval of the RMSE difference is below zero
    assert better.slices
    assert not better.blocking
    assert str(champion_version(client, name).version) == v2

    v3, m3 = register_quick_model(SPEC, name, weak_rows, seed=3, max_iter=3)
    worse = gate(
        client,
        SPEC,
        name,
        v3,
        model=m3,
        run_id=client.get_model_version(name, v3).run_id,
        rows=held_out,
        policy=POLICY,
        batches=[7, 8, 9],
    )
    assert worse.outcome is Outcome.NOT_BETTER
    assert "not better" in worse.reason
    assert str(champion_version(client, name).version) == v2  # the champion stays
    assert str(client.get_model_version_by_alias(name, CHALLENGER).version) == v3  # registered, marked challenger

    run = client.get_run(client.get_model_version(name, v3).run_id)
    tags, metrics = run.data.tags, run.data.metrics
    assert tags["driftgate.gate.outcome"] == "not better"
    assert tags["driftgate.gate.promoted"] == "False"
    assert tags["driftgate.gate.test"] == "paired bootstrap"
    assert tags["driftgate.gate.batches"] == "[7, 8, 9]"
    assert metrics[f"gate_champion_{SPEC.metric.name}"] == pytest.approx(worse.champion_score)
    assert metrics["gate_ci_low"] == pytest.approx(worse.ci_low)
    assert metrics["gate_ci_high"] == pytest.approx(worse.ci_high)
    assert metrics["gate_rows"] == len(held_out)
    recorded = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/gate.json")
    assert recorded["outcome"] == "not better"
    assert len(recorded["slices"]) == len(worse.slices) > 0

    describe_gate(client, name, v3, worse)
    assert "Gate: not better (superiority; 2000 test rows of batches 7, 8, 9; paired bootstrap)" in (
        client.get_model_version(name, v3).description
    )

    assert rollback(client, name) == v1
    assert str(champion_version(client, name).version) == v1


@pytest.mark.training  # two models trained and gated with bootstrap intervals
def test_a_5_percent_margin_holds_back_a_different_model_of_equal_quality(client: MlflowClient) -> None:
    name = SPEC.model_name
    held_out = training_rows(SPEC, seed=99, n=2000)
    v1, m1 = register_quick_model(SPEC, name, training_rows(SPEC, seed=2, n=3000), seed=2, max_iter=100)
    gate(
        client, SPEC, name, v1, model=m1, run_id=client.get_model_version(name, v1).run_id, rows=held_out, policy=POLICY
    )
    # other rows, other seed: a genuinely different model of the same quality
    v2, m2 = register_quick_model(SPEC, name, training_rows(SPEC, seed=4, n=3000), seed=4, max_iter=100)
    X, _ = split_xy(held_out, SPEC)
    assert not np.allclose(m1.predict(X), m2.predict(X))

    margin = GatePolicy(margin=0.05, slice_min_rows=100, resamples=500)
    same = gate(
        client, SPEC, name, v2, model=m2, run_id=client.get_model_version(name, v2).run_id, rows=held_out, policy=margin
    )
    assert abs(same.difference) < 0.05 * same.champion_score  # equal quality: well within 5 %
    # conclusively "not better by 5 %", not merely undecided (which is what it is without the margin)
    assert same.outcome is Outcome.NOT_BETTER, same.reason
    champ, chall = predict(m1, SPEC.task, X), predict(m2, SPEC.task, X)
    assert evaluate_challenger(SPEC, held_out, chall, champ, policy=POLICY).outcome is Outcome.INCONCLUSIVE
    assert str(champion_version(client, name).version) == v1
