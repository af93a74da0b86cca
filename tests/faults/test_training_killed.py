"""Fault: the training flow is killed with SIGKILL (``kill -9``) at a named point, then rerun.

A real ``driftgate run`` process (the README's command) ingests two small batches from a data API
on 127.0.0.1 and takes them through the loop against the test's Prefect server and an MLflow
registry on SQLite. ``DRIFTGATE_FAULT_KILL_AT`` (``driftgate.tasks._fault_point``, test-only) makes
it SIGKILL itself at one point: after a batch is stored, during validation, during MLflow logging,
between registering a version and moving ``champion``, right after the move, during SHAP. No
``finally`` runs: the dataset lease, the open MLflow run and the half-written state stay as the
crash left them. A rerun must then finish: every batch recorded once, every batch's content
hash what the source gives (and the bytes stored before the kill unchanged), no version made
champion twice or without its gate record, the champion explained. See docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from driftgate.context import build_context
from driftgate.dataset.frames import content_hash
from driftgate.local.data_api import create_data_api
from driftgate.local.servers import ServerThread
from driftgate.registry.client import champion_version, lineage
from driftgate.registry.view import HISTORY_TAG
from driftgate.dataset.scenario import make_batch, plan_batches
from driftgate.settings import get_settings
from driftgate.dataset.sources import load_source
from driftgate.dataset.spec import load_spec
from driftgate.tasks.ingest import prepare_batch
from driftgate.tasks.loop import read_outcomes
from driftgate.registry.tracking import configure_mlflow
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # a driftgate process killed, then the flow rerun on the Prefect test server

BIN = Path(sys.executable).parent
DATASET, MODEL = "synthetic-classification", "synthetic-classifier"
BATCHES, ROWS = 2, 500
POINTS = ["after_store", "in_validation", "in_mlflow_logging", "before_alias", "after_alias", "in_shap"]


def small_spec():  # type: ignore[no-untyped-def]
    spec = load_spec(DATASET, ROOT / "datasets")
    spec.scenario.batches, spec.scenario.batch_size = BATCHES, ROWS
    return spec


def source_hashes(seed: int) -> dict[int, str]:
    """What each batch must hash to, computed from the source (not from what the lake holds)."""
    spec = small_spec()
    frame = load_source(spec)
    plan = plan_batches(frame, spec)
    return {
        n: content_hash(prepare_batch(make_batch(frame, spec, plan, n), spec, n, seed)) for n in range(1, BATCHES + 1)
    }


def run_killed_at(point: str, home: Path, log: Path) -> int:
    """``driftgate run`` in a process of its own that kills itself at ``point``; its exit code."""
    import prefect.settings

    env = {
        **os.environ,
        "PREFECT_API_URL": str(prefect.settings.PREFECT_API_URL.value()),  # the test server: no ephemeral one
        "DRIFTGATE_FAULT_KILL_AT": point,
        "OMP_NUM_THREADS": "1",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "driftgate"), "run"],
            cwd=home.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        return proc.wait(300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.parametrize("point", POINTS)
def test_a_training_run_killed_at_any_point_is_finished_by_a_rerun_with_nothing_lost_or_promoted_twice(
    point: str, prefect_harness: None, mlflow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftgate.flows.training import continuous_training

    spec = small_spec()
    monkeypatch.setenv("DRIFTGATE_DATASET", DATASET)
    monkeypatch.setenv("DRIFTGATE_RETRAIN_POLICY", "never")  # one retrain (batch 1: the first model): the cheapest run
    with ServerThread(create_data_api(load_source(spec), spec)) as api:
        monkeypatch.setenv("DRIFTGATE_DATA_API_URL", api.url)
        get_settings.cache_clear()
        started = time.perf_counter()
        code = run_killed_at(point, mlflow_home, mlflow_home.parent / "run.log")
        killed_after = time.perf_counter() - started
        assert code == -signal.SIGKILL, (mlflow_home.parent / "run.log").read_text()[-3000:]
        ctx = build_context(get_settings())
        before = {n: ctx.lake.fs.cat_file(ctx.lake.data_path(DATASET, n)) for n in ctx.lake.stored_numbers(DATASET)}
        recorded_before = [o.batch for o in read_outcomes(ctx.lake, DATASET)]

        rerun = continuous_training()

    assert not set(recorded_before) & {o.batch for o in rerun}  # nothing recorded is done again
    outcomes = read_outcomes(ctx.lake, DATASET)
    assert [o.batch for o in outcomes] == list(range(1, BATCHES + 1))  # every batch once, in order
    assert sorted([*recorded_before, *(o.batch for o in rerun)]) == list(range(1, BATCHES + 1))
    # a batch number means the rows the source gave it, before and after the kill
    expected = source_hashes(get_settings().seed)
    for n in range(1, BATCHES + 1):
        manifest = ctx.lake.manifest(DATASET, n)
        assert manifest is not None
        assert manifest.sha256 == expected[n], n
        assert content_hash(ctx.lake.read_batch(DATASET, n)) == expected[n], n
    assert {n: ctx.lake.fs.cat_file(ctx.lake.data_path(DATASET, n)) for n in before} == before
    # champion: one version, made champion once, with its gate record and its explanation
    client = configure_mlflow(get_settings())
    history = json.loads(client.get_registered_model(MODEL).tags[HISTORY_TAG])
    assert len(history) == len(set(history)), history  # no version promoted twice
    champ = champion_version(client, MODEL)
    assert champ is not None
    assert history[-1] == str(champ.version)
    for version in history:
        run = client.get_run(client.get_model_version(MODEL, version).run_id)
        assert run.data.tags.get("driftgate.gate.promoted") == "True", (version, run.data.tags)
        assert "gate.json" in {a.path for a in client.list_artifacts(run.info.run_id)}, version
    assert "explanations/importance.json" in {a.path for a in client.list_artifacts(champ.run_id, "explanations")}, (
        "the champion was never explained"
    )
    for ref in lineage(client, champ):
        assert ref.sha256 == expected[ref.number]
    print(
        f"\nkilled at {point} after {killed_after:.1f} s; {len(before)} batches stored and "
        f"{len(recorded_before)} recorded before the kill; the rerun recorded {[o.batch for o in rerun]}; "
        f"champion v{champ.version} (history {history}); 0 batches lost, 0 duplicated, 0 promoted twice"
    )
