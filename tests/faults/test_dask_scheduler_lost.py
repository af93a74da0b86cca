"""Fault: the Dask scheduler dies (SIGKILL) while the window's distributed fit runs on its workers.

A real cluster of processes: ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1,
the fit driven from this process as the flow drives it (:func:`fit_on_cluster` on a window read
lazily from the lake). When both workers run LightGBM's training tasks the scheduler is killed
with SIGKILL. The fit must fail within a bounded time with one error that names the scheduler
(not a hang, not a lost worker); the same window then fits on a fresh cluster. See
docs/reliability.md.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from driftgate.errors import DriftgateError
from driftgate.dataset.frames import SPLIT_COLUMN, assign_splits
from driftgate.stores.lake import Lake
from driftgate.local.servers import free_port
from driftgate.tasks.train import DistributedSettings, fit_on_cluster, read_window
from tests.integration.test_dask_window import batch_frame, wide_spec

pytestmark = [pytest.mark.slow, pytest.mark.dask]  # a scheduler and two workers as processes, then a LocalCluster

BIN = Path(sys.executable).parent
SPEC = wide_spec(5, name="scheduler-lost", model_name="scheduler-lost")
BATCHES, ROWS = 4, 4_000


def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)


@pytest.mark.timeout(400)
def test_a_scheduler_lost_mid_fit_fails_naming_it_and_the_window_fits_on_a_fresh_cluster(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    url = (tmp_path / "lake").as_uri()
    for n in range(1, BATCHES + 1):
        frame = batch_frame(SPEC, n, ROWS)
        frame[SPLIT_COLUMN] = assign_splits(len(frame), n, 0, keys=None)
        Lake(url).write_batch_once(SPEC.name, n, frame)
    numbers = list(range(1, BATCHES + 1))
    address = f"tcp://127.0.0.1:{free_port()}"
    log = tmp_path / "dask.log"
    scheduler = start(
        [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
        log,
    )
    workers = [
        start([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--no-dashboard", "--memory-limit", "1GB"], log)
        for _ in range(2)
    ]
    killed: list[float] = []

    def kill_the_scheduler_while_training(client: Client) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            training = [w for w, keys in client.processing().items() if any("_train_part" in str(k) for k in keys)]
            if len(training) == 2:
                time.sleep(1)  # inside LightGBM's network by now
                killed.append(time.monotonic())
                kill(scheduler)
                return
            time.sleep(0.2)

    # enough trees that training is still running when the kill lands; a one-minute network bound
    cfg = DistributedSettings(n_estimators=20_000, sample_rows=2_000, seed=0, network_timeout_min=1)
    try:
        client = Client(address, timeout=60)
        try:
            client.wait_for_workers(2, timeout=120)
            killer = threading.Thread(target=kill_the_scheduler_while_training, args=(client,), daemon=True)
            killer.start()
            with pytest.raises(DriftgateError, match="scheduler") as failed:
                fit_on_cluster(client, SPEC, read_window(Lake(url), SPEC, numbers), cfg)
            killer.join()
            failed_after = time.monotonic() - killed[0]
        finally:
            client.close(timeout=10)
    finally:
        for p in [scheduler, *workers]:
            kill(p)
    assert killed, "the scheduler was never seen running the fit"
    message = str(failed.value)
    print(f"\nthe fit failed with: {message}")
    assert address in message, message
    assert "\n" not in message
    # the rerun: the same window on a fresh cluster
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as fresh,
    ):
        fit = fit_on_cluster(fresh, SPEC, read_window(Lake(url), SPEC, numbers), DistributedSettings(n_estimators=20))
    window = read_window(Lake(url), SPEC, numbers)
    assert fit.train_rows == window.split_rows["train"]
    print(f"\nscheduler killed mid-fit; the fit failed {failed_after:.1f} s later: {message}; refit on a fresh cluster")
