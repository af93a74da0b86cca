"""The whole loop on real parts: data API on 127.0.0.1, Prefect harness, MLflow on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftgate.dataset.sources import load_source
from driftgate.dataset.spec import load_spec
from driftgate.local.data_api import create_data_api
from driftgate.registry.tracking import configure_mlflow
from driftgate.settings import get_settings
from tests.conftest import ServerThread


@pytest.fixture
def synthetic_api(driftgate_env: Path, monkeypatch: pytest.MonkeyPatch):
    spec = load_spec("synthetic-regression", Path(__file__).parents[2] / "datasets")
    spec.scenario.corrupt_batches = [4]
    with ServerThread(create_data_api(load_source(spec), spec)) as server:
        monkeypatch.setenv("DRIFTGATE_DATA_API_URL", server.url)
        monkeypatch.setenv("DRIFTGATE_DATASET", "synthetic-regression")
        monkeypatch.setenv("DRIFTGATE_RETRAIN_POLICY", "drift")  # growth retrains: tests/integration/test_backtest.py
        get_settings.cache_clear()
        yield server


def test_continuous_training_runs_every_stage_and_promotes_a_champion(
    prefect_harness: None, synthetic_api: ServerThread
) -> None:

    from driftgate.context import build_context
    from driftgate.flows.training import continuous_training
    from driftgate.registry.client import champion_version, lineage

    outcomes = continuous_training()
    by_batch = {o.batch: o for o in outcomes}
    assert sorted(by_batch) == [1, 2, 3, 4, 5]
    assert by_batch[1].retrained
    assert by_batch[1].reasons[0] == "no champion yet"
    assert by_batch[1].trigger == "first"
    assert by_batch[1].gate == "promoted"  # the first model clears the no-skill baseline
    assert by_batch[1].champion == "1"
    assert by_batch[2].valid
    assert not by_batch[2].retrained
    assert by_batch[3].retrained  # the shifted batches trigger retraining
    assert by_batch[3].trigger == "drift"
    assert by_batch[3].question == "superiority"  # a drift retrain must be better
    assert by_batch[3].window == [3]  # the window restarts at the drifted batch
    assert by_batch[3].gate in {"promoted", "not better", "inconclusive"}
    assert by_batch[3].gate_interval is not None  # a comparison with a champion carries its interval
    # the drifted window is small: a second challenger learned from the whole history, judged on the same rows
    assert by_batch[3].history_version == str(int(by_batch[3].version) + 1)
    assert by_batch[3].history_gate in {"promoted", "not better", "inconclusive"}
    assert by_batch[3].history_window_rows == sum(
        m.rows for m in (build_context(get_settings()).lake.manifest("synthetic-regression", n) for n in (1, 2, 3)) if m
    )
    assert by_batch[2].gate is None  # no retrain, no gate
    assert by_batch[4].valid is False  # the corrupt batch is quarantined ...
    ctx = build_context(get_settings())
    assert by_batch[3].gate_rows == ctx.lake.manifest("synthetic-regression", 3).splits["test"]  # test rows only
    assert ctx.lake.is_quarantined("synthetic-regression", 4)
    assert 4 not in ctx.lake.accepted_numbers("synthetic-regression")
    client = configure_mlflow(get_settings())
    champ = champion_version(client, "synthetic-regressor")
    assert champ is not None
    drift_run = client.get_run(by_batch[2].drift_run_id)  # every drift report is in MLflow too
    assert drift_run.data.tags["driftgate.retrain"] == "False"
    metrics = drift_run.data.metrics  # the share drifted, and each feature's statistic
    assert "drifted_share" in metrics
    assert all(any(k.startswith(f"drift_{name}_") for k in metrics) for name in ctx.spec.feature_names), metrics
    assert {a.path for a in client.list_artifacts(drift_run.info.run_id, "drift")} == {
        "drift/report.json",
        "drift/report.html",
    }
    description = client.get_model_version("synthetic-regressor", champ.version).description
    assert "triggered by:" in description
    assert "Gate: " in description  # what triggered it and how it compared
    history = client.get_model_version("synthetic-regressor", by_batch[3].history_version)
    assert client.get_run(history.run_id).data.tags["driftgate.window.batches"] == "1,2,3"
    history_tags = client.get_run(history.run_id).data.tags
    assert history_tags["driftgate.gate.batches"] == "[3]"  # judged on the drifted batch's test rows
    assert float(history_tags["driftgate.gate.confidence"]) == pytest.approx(0.975)  # two challengers: 2.5 % each
    refs = lineage(client, champ)
    assert 4 not in [b.number for b in refs]  # ... and never trained on
    for ref in refs:  # the version names exactly the batches (and their content hashes) that trained it
        assert ref.sha256 == ctx.lake.manifest("synthetic-regression", ref.number).sha256
    # every trained version carries its SHAP explanation, in terms of the original features
    import mlflow

    from driftgate.registry.client import importance

    arts = {a.path for a in client.list_artifacts(champ.run_id, "explanations")}
    assert {
        "explanations/importance.json",
        "explanations/report.html",
        "explanations/bar.png",
        "explanations/beeswarm.png",
    } <= arts, arts
    weights = importance(client, champ)
    assert weights is not None
    assert set(weights) == set(ctx.spec.feature_names)
    assert max(weights, key=weights.get) == "num_0"  # the generator's strongest feature
    assert mlflow.artifacts.load_text(f"runs:/{champ.run_id}/explanations/report.html").startswith("<!doctype html>")
    # a rerun finds nothing new and changes nothing
    assert continuous_training() == []
