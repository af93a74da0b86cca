"""Fault: the training flow is killed with SIGKILL (``kill -9``) at a named point, then rerun.

A real ``driftgate run`` process (the README's command, its entry point run in a process of its
own forked from one that imported the command's modules once: ``tests/faults/_zygote.py``) ingests
two small batches from a data API on 127.0.0.1 and takes them through the loop against the test's
Prefect server and an MLflow registry on SQLite. ``DRIFTGATE_FAULT_KILL_AT``
(``driftgate.tasks._fault_point``, test-only) makes it SIGKILL itself at one point: after a batch
is stored, during validation, during MLflow logging, between registering a version and moving
``champion``, right after the move, during SHAP. No ``finally`` runs: the dataset lease, the open
MLflow run and the half-written state stay as the crash left them. A rerun must then finish: every
batch recorded once, every batch's content hash what the source gives (and the bytes stored before
the kill unchanged), no version made champion twice or without its gate record, the champion
explained. See docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from driftgate.context import build_context
from driftgate.dataset.frames import content_hash
from driftgate.dataset.scenario import make_batch, plan_batches
from driftgate.dataset.sources import load_source
from driftgate.dataset.spec import load_spec
from driftgate.local.data_api import create_data_api
from driftgate.local.servers import ServerThread
from driftgate.registry.client import champion_version, lineage
from driftgate.registry.tracking import configure_mlflow
from driftgate.registry.view import HISTORY_TAG
from driftgate.settings import get_settings
from driftgate.tasks.ingest import prepare_batch
from driftgate.tasks.loop import read_outcomes
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


# What ``driftgate run`` imports, imported once by the zygote (a module the run never needs would only cost)
PRELOAD = [
    "driftgate.cli._app",
    "driftgate.cli.loop",
    "driftgate.flows.training",
    "great_expectations",  # validation
    "skops.io",  # the model's format (mlflow.sklearn)
    "mlflow.sklearn",
    "mlflow.store.tracking.sqlalchemy_store",
    "git",  # MLflow's run source
    "lightgbm",  # a family of the search (the flow module imports it lazily once #39's lazy imports are in)
    "shap",  # the explanation
]


def process_env() -> dict[str, str]:
    """What every ``driftgate run`` here is started with, beside the test's settings."""
    import prefect.settings

    return {
        **os.environ,
        "PREFECT_API_URL": str(prefect.settings.PREFECT_API_URL.value()),  # the test server: no ephemeral one
        "OMP_NUM_THREADS": "1",
    }


class Zygote:
    """``tests/faults/_zygote.py``: each :meth:`run` a ``driftgate`` process forked from it."""

    def __init__(self, folder: Path) -> None:
        env = {**process_env(), "PREFECT_HOME": str(folder / "prefect")}
        with (folder / "zygote.log").open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("_zygote.py")), *PRELOAD],
                env=env,
                cwd=folder,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
            )
        self.log = folder / "zygote.log"
        self.answers: queue.Queue[Any] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        assert self._answer(300) == "ready", self.log.read_text()[-3000:]

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.answers.put(json.loads(line))
        self.answers.put(None)  # it ended

    def _answer(self, timeout: float) -> Any:
        try:
            return self.answers.get(timeout=timeout)
        except queue.Empty:
            return None

    def run(self, args: list[str], *, env: dict[str, str], cwd: Path, log: Path, timeout: float) -> int:
        """``driftgate <args>`` in a process of its own; its exit code (negative: the signal that ended it)."""
        assert self.proc.stdin is not None
        job = {"argv": [str(BIN / "driftgate"), *args], "env": env, "cwd": str(cwd), "log": str(log)}
        self.proc.stdin.write((json.dumps(job) + "\n").encode())
        self.proc.stdin.flush()
        forked = self._answer(60)
        assert "pid" in (forked or {}), (forked, self.log.read_text()[-3000:])  # else refused, or the zygote died
        ended = self._answer(timeout)
        if ended is None:
            os.killpg(forked["pid"], signal.SIGKILL)  # its own session: the run and anything it started
            ended = self._answer(60)
        assert (ended or {}).get("pid") == forked["pid"], (ended, self.log.read_text()[-3000:])
        return int(ended["returncode"])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.reader.join(30)  # it reads to the end of the pipe, then the pipe is closed (no ResourceWarning)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture(scope="session")  # not module: the six tests may still run on both xdist workers
def zygote(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zygote]:
    forks = Zygote(tmp_path_factory.mktemp("zygote"))
    yield forks
    forks.close()


def run_killed_at(forks: Zygote, point: str, home: Path, log: Path) -> int:
    """``driftgate run`` in a process of its own that kills itself at ``point``; its exit code."""
    env = {**process_env(), "DRIFTGATE_FAULT_KILL_AT": point}
    return forks.run(["run"], env=env, cwd=home.parent, log=log, timeout=300)


@pytest.mark.parametrize("point", POINTS)
def test_a_training_run_killed_at_any_point_is_finished_by_a_rerun_with_nothing_lost_or_promoted_twice(
    point: str, prefect_harness: None, zygote: Zygote, mlflow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftgate.flows.training import continuous_training

    spec = small_spec()
    monkeypatch.setenv("DRIFTGATE_DATASET", DATASET)
    monkeypatch.setenv("DRIFTGATE_RETRAIN_POLICY", "never")  # one retrain (batch 1: the first model): the cheapest run
    with ServerThread(create_data_api(load_source(spec), spec)) as api:
        monkeypatch.setenv("DRIFTGATE_DATA_API_URL", api.url)
        get_settings.cache_clear()
        started = time.perf_counter()
        code = run_killed_at(zygote, point, mlflow_home, mlflow_home.parent / "run.log")
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
