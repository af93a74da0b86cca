"""Continuous training that keeps learning, on a stationary replay of diamonds (plotnine, nothing downloaded).

A stationary replay never drifts: under ``drift+growth`` the loop still retrains as the data grows,
and the final champion learns from several times the rows of the first one; under ``never`` only
the first model is trained. The replay runs the flow's own stages in a temporary home.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from driftgate.dataset.spec import load_spec
from driftgate.flows.backtest import replay_frames, replay_policy
from driftgate.models.predict import predict
from driftgate.registry.client import champion_version, lineage, load_version
from driftgate.registry.tracking import configure_mlflow
from driftgate.settings import get_settings
from driftgate.stores.lake import Lake
from driftgate.tasks.evaluate import paired_differences
from driftgate.tasks.train import split_rows, split_xy
from tests.conftest import ROOT

STATIONARY = {"batch_size": 1500, "batches": 6, "base_batches": 6, "corrupt_batches": [], "concept_shift": 0.0}
SMALL_SEARCH = {
    "DRIFTGATE_SEARCH_ITER": "2",
    "DRIFTGATE_CV_FOLDS": "2",
    "DRIFTGATE_N_JOBS": "1",
    "DRIFTGATE_EXPLAIN_ROWS": "100",
    "DRIFTGATE_EXPLAIN_SECONDS": "5",
}


def stationary_specs(folder: Path) -> Path:
    """The diamonds spec with a stationary scenario: 6 batches of 1,500 rows from one distribution."""
    spec = yaml.safe_load((ROOT / "datasets" / "diamonds.yaml").read_text())
    spec["scenario"].update(STATIONARY)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "diamonds.yaml").write_text(yaml.safe_dump(spec))
    return folder


@pytest.fixture
def stationary(driftgate_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    specs = stationary_specs(tmp_path / "specs")
    for key, value in {**SMALL_SEARCH, "DRIFTGATE_DATASETS_DIR": str(specs), "DRIFTGATE_DATASET": "diamonds"}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return specs


@pytest.mark.timeout(3000)  # six batches and several trainings: slow on a loaded machine
def test_drift_growth_keeps_learning_on_a_stationary_replay(
    prefect_harness: None, stationary: Path, tmp_path: Path
) -> None:
    settings = get_settings()
    spec = load_spec("diamonds", stationary)
    home = tmp_path / "replay"
    result = replay_policy(settings, spec, replay_frames(spec), "drift+growth", home)

    triggers = [b.trigger for b in result.batches]
    assert triggers[0] == "first"
    assert triggers.count("growth") >= 2, triggers  # no batch drifts, yet the loop retrains as data grows
    assert "drift" not in triggers
    assert all(b.prequential is not None for b in result.batches[1:])  # every later batch is judged before use

    ours = settings.model_copy(update={"home": home, "lake_url": None, "mlflow_tracking_uri": None})
    client = configure_mlflow(ours)
    lake = Lake(ours.resolved_lake_url())
    champion, first = champion_version(client, spec.model_name), client.get_model_version(spec.model_name, "1")
    assert champion is not None

    def trained_rows(mv: object) -> int:
        return sum(lake.manifest(spec.name, b.number).rows for b in lineage(client, mv))  # type: ignore[arg-type,union-attr]

    assert trained_rows(champion) >= 4 * trained_rows(first)
    tags = client.get_run(champion.run_id).data.tags
    assert tags["driftgate.trigger"] == "growth"
    assert tags["driftgate.gate.question"] == "non-inferiority"  # more of the same: not worse is enough
    assert int(tags["driftgate.window.rows"]) == trained_rows(champion)
    growth = next(b for b in result.batches if b.trigger == "growth")
    assert growth.gate is not None

    # held out: the test rows of every batch (no version trained on them), both models, paired
    rows = split_rows(pd.concat([lake.read_batch(spec.name, n) for n in range(1, 7)], ignore_index=True), "test")
    X, y = split_xy(rows, spec)
    old = predict(load_version(spec.model_name, "1", spec), spec.task, X)
    new = predict(load_version(spec.model_name, champion.version, spec), spec.task, X)
    d = paired_differences(spec.metric.name, y.to_numpy(), old, new, {"all": np.ones(len(rows), bool)}, seed=1)["all"]
    _, low, _ = d.improvement(spec.metric.direction == "maximize")
    assert low > 0, d  # better than the first champion, with the gate's confidence


@pytest.mark.slow  # the installed command replays six batches, Prefect's ephemeral server and all
@pytest.mark.timeout(3000)
def test_backtest_command_from_an_empty_folder_compares_policies(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRIFTGATE_", "PREFECT_", "MLFLOW_"))}
    env.update(
        SMALL_SEARCH,
        DRIFTGATE_HOME=str(tmp_path / "fresh" / "home"),
        DRIFTGATE_DATASETS_DIR=str(stationary_specs(tmp_path / "specs")),
        DRIFTGATE_EXPECTATIONS_DIR=str(ROOT / "expectations"),
    )
    exe = Path(sys.executable).parent / "driftgate"
    out = subprocess.run(
        [str(exe), "backtest", "-d", "diamonds", "--policies", "never"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=1200,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Traceback" not in out.stdout + out.stderr
    assert "policy never" in out.stdout
    report = json.loads((work / "backtest-diamonds.json").read_text())
    (never,) = report["policies"]
    assert [b["retrained"] for b in never["batches"]] == [True] + [False] * 5  # the first model only
    assert never["retrains"] == 1
    assert never["mean"] is not None
    assert never["ci_low"] <= never["mean"] <= never["ci_high"]
    page = (work / "backtest-diamonds.html").read_text()
    assert page.startswith("<!doctype html>")
    assert "data:image/png;base64," in page
    assert not (tmp_path / "fresh" / "home" / "lake").exists()  # the replay touched no lake of the user's
    assert not (tmp_path / "fresh" / "home" / "mlflow.db").exists()
