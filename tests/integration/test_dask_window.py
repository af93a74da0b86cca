"""Training on a real Dask cluster: a window past ``DRIFTGATE_DASK_MIN_ROWS`` through the flow, and a
worker killed mid-fit. The wide table, its batches and the RSS sampler here are shared with
``test_dask_flow.py``, whose story trains a window larger than one worker's memory (the flow's
process never holding it) and checks the version it registers.

Real parts: a file lake, ``distributed.LocalCluster`` worker processes, MLflow on SQLite in a temp
folder, the registry, Prefect's test harness.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from driftgate.dataset.frames import SPLIT_COLUMN, assign_splits, normalize
from driftgate.dataset.spec import DatasetSpec, Feature, Metric
from driftgate.stores.lake import Lake
from driftgate.tasks.train import (
    DistributedSettings,
    read_window,
)

pytestmark = pytest.mark.dask  # every test here starts a LocalCluster

NUMERIC = 100  # float columns: ~0.8 kB a row in pandas
BATCH_ROWS = 30_000  # the killed worker's window: 4 batches


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
