"""A window larger than one worker's memory trains on a real Dask cluster; the flow's process never holds it.

Real parts: a file lake written by another process, a ``distributed.LocalCluster`` of 4 worker
processes with a memory limit below the window's in-memory size (spill and pause off, so a worker
that held the window would be killed at 95 % of its limit), MLflow on SQLite in a temp folder, the
registry, skops. The flow's process RSS is sampled every 20 ms while the training step runs.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pytest

from driftgate.dataset.frames import SPLIT_COLUMN, assign_splits, normalize
from driftgate.dataset.spec import DatasetSpec, Feature, Metric
from driftgate.models.model_loader import TRUSTED_TYPES, load_registered
from driftgate.models.servable import LIGHTGBM_TRUSTED_TYPES
from driftgate.registry.tracking import configure_mlflow, experiment_id
from driftgate.settings import Settings
from driftgate.stores.lake import Lake
from driftgate.tasks.train import (
    ClusterTraining,
    DistributedSettings,
    read_window,
    train_and_register_on_cluster,
)

pytestmark = pytest.mark.dask  # every test here starts a LocalCluster or reads what one trained

NUMERIC = 100  # float columns: ~0.8 kB a row in pandas
BATCHES, BATCH_ROWS = 40, 30_000  # 1.2M rows, about 1 GB in pandas; small parts: a worker reads one at a time
WORKERS = 4  # each holds a quarter of the encoded training rows, twice while LightGBM builds its dataset


def wide_spec(numeric: int, name: str = "wide-numeric", model_name: str = "wide-numeric-dask") -> DatasetSpec:
    """A classification spec of ``numeric`` float columns (at least 5: they carry the signal) and two categoricals."""
    return DatasetSpec(
        name=name,
        task="classification",
        target="label",
        model_name=model_name,
        source="synthetic:test",
        positive_class="1",
        metric=Metric(name="roc_auc", direction="maximize"),
        features=[
            *(Feature(name=f"x{i}", type="numeric") for i in range(numeric)),
            Feature(name="colour", type="categorical", values=["red", "green", "blue", "grey"]),
            Feature(name="size", type="categorical", values=["s", "m", "l"]),
        ],
    )


SPEC = wide_spec(NUMERIC)


def batch_frame(spec: DatasetSpec, number: int, rows: int) -> pd.DataFrame:
    """Batch ``number`` of a :func:`wide_spec` dataset: seeded rows (no split column) in the spec's dtypes."""
    rng = np.random.default_rng(number)
    numeric = spec.numeric
    X = rng.normal(size=(rows, len(numeric)))
    colour = rng.choice(["red", "green", "blue", "grey"], rows)
    size = rng.choice(["s", "m", "l"], rows)
    logit = X[:, :5] @ np.array([1.0, -0.8, 0.6, 0.4, -0.3]) + (colour == "red") * 0.7
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(X, columns=numeric)
    frame["colour"], frame["size"], frame["label"] = colour, size, label
    return normalize(frame, spec)


def write_batch(url: str, number: int) -> int:
    """Store one seeded batch (in a process of its own); its rows' in-memory size in bytes as pandas holds them."""
    frame = batch_frame(SPEC, number, BATCH_ROWS)
    frame[SPLIT_COLUMN] = assign_splits(len(frame), number, 0, keys=None)
    Lake(url).write_batch_once(SPEC.name, number, frame)
    return int(Lake(url).read_batch(SPEC.name, number).memory_usage(deep=True).sum())


class PeakRSS:
    """The largest resident set of this process while the block runs, sampled in a thread."""

    def __init__(self, every_s: float = 0.02) -> None:
        self.process, self.every_s = psutil.Process(), every_s
        self.baseline = self.peak = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.every_s)

    def __enter__(self) -> PeakRSS:
        self.baseline = self.peak = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


@dataclass
class Trained:
    result: ClusterTraining
    window_bytes: int
    worker_limit: int
    rss: PeakRSS
    home: Path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    import dask
    import lightgbm  # noqa: F401  (imports cost RSS: made before the baseline, as a running flow has them)
    import mlflow.sklearn  # noqa: F401
    import skops.io  # noqa: F401
    from distributed import Client, LocalCluster

    home = tmp_path_factory.mktemp("dask-window")
    url = (home / "lake").as_uri()
    with multiprocessing.get_context("spawn").Pool(1) as pool:  # this process never holds the rows
        window_bytes = sum(pool.starmap(write_batch, [(url, n) for n in range(1, BATCHES + 1)]))
    worker_limit = int(window_bytes * 0.9)  # the window does not fit in one worker (~0.3 GB of it is imports)
    settings = Settings(home=home / "home")
    client = configure_mlflow(settings)
    experiment = experiment_id(settings, SPEC.name)
    memory = {f"distributed.worker.memory.{k}": False for k in ("target", "spill", "pause")}
    arrow = {"distributed.nanny.pre-spawn-environ.ARROW_DEFAULT_MEMORY_POOL": "system"}  # frees what it reads
    with (
        dask.config.set({**memory, **arrow}),
        LocalCluster(
            n_workers=WORKERS, threads_per_worker=1, memory_limit=worker_limit, dashboard_address=None
        ) as cluster,
        Client(cluster) as dask_client,
    ):
        window = read_window(Lake(url), SPEC, list(range(1, BATCHES + 1)))
        cfg = DistributedSettings(n_estimators=20, sample_rows=20_000, seed=0)
        with PeakRSS() as rss:
            result = train_and_register_on_cluster(
                client, experiment, SPEC, SPEC.model_name, window, cfg, ["first"], BATCHES, dask_client=dask_client
            )
    return Trained(result, window_bytes, worker_limit, rss, home)


def test_the_flow_process_never_holds_the_window(trained: Trained) -> None:
    print(  # the figures behind the assertions, for the record (pytest -s)
        f"window {trained.window_bytes / 2**20:.0f} MB in pandas, worker limit {trained.worker_limit / 2**20:.0f} MB, "
        f"flow RSS {trained.rss.baseline / 2**20:.0f} MB -> peak {trained.rss.peak / 2**20:.0f} MB"
    )
    assert trained.window_bytes > trained.worker_limit  # no single worker could hold it
    assert trained.rss.growth < trained.window_bytes / 4, (
        f"flow RSS grew by {trained.rss.growth / 2**20:.0f} MB while training on a "
        f"{trained.window_bytes / 2**20:.0f} MB window"
    )


def test_the_version_is_registered_with_its_metrics_and_lineage(trained: Trained) -> None:
    from mlflow.tracking import MlflowClient

    version = trained.result.trained
    mv = MlflowClient().get_model_version(SPEC.model_name, version.version)
    assert mv.run_id == version.run_id
    run = MlflowClient().get_run(version.run_id)
    assert run.data.params["family"] == "lightgbm-dask"
    assert int(run.data.params["train_rows"]) > 0.6 * BATCHES * BATCH_ROWS
    assert run.data.metrics["test_roc_auc"] > 0.7  # the signal is learnt
    assert len(trained.result.samples.test) > 0


def test_the_registered_model_is_a_local_pipeline_that_predicts(trained: Trained, tmp_path: Path) -> None:
    import mlflow
    import skops.io

    local = Path(mlflow.artifacts.download_artifacts(f"models:/{SPEC.model_name}/1", dst_path=str(tmp_path)))
    [path] = local.glob("*.skops")
    untrusted = set(skops.io.get_untrusted_types(file=path))
    assert untrusted <= set(TRUSTED_TYPES)  # the safe loader's list names every type a distributed version holds
    assert untrusted & set(LIGHTGBM_TRUSTED_TYPES)  # ... LightGBM's among them
    model: Any = skops.io.load(path, trusted=list(TRUSTED_TYPES))
    rows = trained.result.samples.test.head(50)
    proba = model.predict_proba(rows[SPEC.feature_names])
    assert proba.shape == (50, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_the_safe_loader_loads_the_distributed_version(trained: Trained) -> None:
    loaded = load_registered(SPEC.model_name, trained.result.trained.version, SPEC)
    assert len(loaded.model.predict(trained.result.samples.test[SPEC.feature_names])) == len(
        trained.result.samples.test
    )


@pytest.fixture
def classification_api(driftgate_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from driftgate.dataset.sources import load_source
    from driftgate.dataset.spec import load_spec
    from driftgate.local.data_api import create_data_api
    from driftgate.settings import get_settings
    from tests.conftest import ROOT, ServerThread

    spec = load_spec("synthetic-classification", ROOT / "datasets")
    with ServerThread(create_data_api(load_source(spec), spec)) as server:
        monkeypatch.setenv("DRIFTGATE_DATA_API_URL", server.url)
        monkeypatch.setenv("DRIFTGATE_DATASET", "synthetic-classification")
        get_settings.cache_clear()
        yield server.url


def test_continuous_training_trains_a_window_past_dask_min_rows_on_the_cluster(
    prefect_harness: None, classification_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distributed import LocalCluster
    from mlflow.tracking import MlflowClient

    from driftgate.flows.training import continuous_training
    from driftgate.registry.client import champion_version
    from driftgate.settings import get_settings

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        monkeypatch.setenv("DRIFTGATE_DASK_ADDRESS", cluster.scheduler_address)
        monkeypatch.setenv("DRIFTGATE_DASK_MIN_ROWS", "0")  # every window goes to the cluster
        get_settings.cache_clear()
        try:
            [outcome] = continuous_training(max_batches=1)
        finally:  # a refused version leaves its run and tags behind: check them either way
            runs = MlflowClient().search_runs(
                [e.experiment_id for e in MlflowClient().search_experiments()],
                filter_string="tags.`driftgate.trained_on` = 'dask'",
            )
            assert runs, "the retrain did not go to the cluster"
    assert outcome.retrained
    assert outcome.gate == "promoted"
    current = champion_version(MlflowClient(), "synthetic-classifier")
    assert current is not None
    assert str(current.version) == outcome.version


@pytest.mark.timeout(600)  # the hang this guards against lasted LightGBM's 120 minutes
def test_a_worker_killed_during_the_distributed_fit_fails_it_with_a_clear_error_not_a_hang(tmp_path: Path) -> None:
    """The fault behind a CI run that hung for 30 minutes: a worker killed mid-fit (at its memory limit there).

    LightGBM's other ranks wait for a lost peer for ``time_out`` minutes (120 by default); the fit
    bounds that with ``network_timeout_min`` and says what happened. The fault is real: the worker's
    process is killed with SIGKILL, as the nanny does at 95 % of its memory limit, while it trains. By
    timing, LightGBM raises (a reset socket) or hangs (a closed one): either way the fit fails clearly.
    """
    import os
    import signal

    from distributed import Client, LocalCluster

    from driftgate.errors import DriftgateError
    from driftgate.tasks.train import fit_on_cluster

    url = (tmp_path / "lake").as_uri()
    for n in (1, 2, 3, 4):
        write_batch(url, n)
    window = read_window(Lake(url), SPEC, [1, 2, 3, 4])
    # enough trees that training is still running when the kill lands; a one-minute network bound
    cfg = DistributedSettings(n_estimators=20_000, sample_rows=5_000, seed=0, network_timeout_min=1)
    killed: list[int] = []

    def kill_a_training_worker(client: Client) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            training = [w for w, keys in client.processing().items() if any("_train_part" in str(k) for k in keys)]
            if len(training) == 2:
                time.sleep(2)  # inside LightGBM's network by now
                pid = client.run(os.getpid, workers=[training[-1]])[training[-1]]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.2)

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as dask_client,
    ):
        killer = threading.Thread(target=kill_a_training_worker, args=(dask_client,), daemon=True)
        killer.start()
        with pytest.raises(DriftgateError, match=r"distributed fit of .wide-numeric. failed.*memory limit"):
            fit_on_cluster(dask_client, SPEC, window, cfg)
        killer.join()
    assert killed, "no worker was seen training"
