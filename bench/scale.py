"""Scale-out benchmark: the same final fit on one process and on a 2-worker Dask cluster, in one run.

The wide table of ``bench/train.py`` (50 columns, 3 classes, three code columns of 700+ levels) is
written into a throwaway file lake as batches of ``--batch-rows`` rows (each generated and written
in its own process, so nothing of it stays in this one). Then, per size and path, a fresh process
(spawned: its peak RSS is its own) runs the training step of a retrain on that window:

- ``local``: the window read into pandas (``load_window``), the trainer's encoders fitted on all
  training rows, ``LGBMClassifier`` (2 threads) fitted in the process, accuracy on the test rows;
- ``dask``: the window read lazily (``read_window``), encoders fitted on a 50,000-row sample,
  ``DaskLGBMClassifier`` on a ``LocalCluster(n_workers=2, threads_per_worker=1)`` (a fresh one per
  run, started by this script, so the workers' peaks are their own), accuracy computed per
  partition on the workers.

Each window is ``--partitions`` batches (10: one Parquet part each). Same booster parameters on
both paths (``--trees`` trees, 50 by default so that 1,000,000 rows finish in minutes on 2 cores;
31 leaves, learning rate 0.1). ``flow_peak_mb``
is the peak RSS of the process that ran the step (``ru_maxrss``); ``worker_peak_mb`` the largest
worker's peak. The machine's 1-minute load is printed with every line.

    OMP_NUM_THREADS=1 nice -n 10 uv run --frozen python bench/scale.py [--rows 100000,1000000] [--big]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train import wide_table  # bench/train.py: the wide table's generator

from driftgate.dataset.frames import SPLIT_COLUMN, assign_splits
from driftgate.stores.lake import Lake

BIG = 5_000_000
THREADS = 2  # the local fit's threads: the same two cores the cluster's two workers get


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _write_batch(url: str, number: int, rows: int) -> None:
    spec, frame = wide_table(rows, seed=number)
    frame[SPLIT_COLUMN] = assign_splits(len(frame), number, 0, keys=None)
    Lake(url).write_batch_once(spec.name, number, frame)


def build_lake(url: str, rows: int, partitions: int) -> list[int]:
    """Write ``rows`` rows of the wide table as batches 1..n, each batch in a process of its own."""
    ctx = multiprocessing.get_context("spawn")
    batch_rows = -(-rows // partitions)
    numbers = list(range(1, -(-rows // batch_rows) + 1))
    with ctx.Pool(1, maxtasksperchild=1) as pool:
        sizes = [min(batch_rows, rows - (n - 1) * batch_rows) for n in numbers]
        pool.starmap(_write_batch, [(url, n, s) for n, s in zip(numbers, sizes, strict=True)])
    return numbers


def _settings(trees: int) -> Any:
    from driftgate.tasks.train import DistributedSettings

    return DistributedSettings(n_estimators=trees)


def local_step(url: str, numbers: list[int], trees: int) -> dict[str, Any]:
    from lightgbm import LGBMClassifier

    from driftgate.tasks.train import build_pipeline, load_window, split_xy

    spec, _ = wide_table(10, seed=0)
    started = time.perf_counter()
    data = load_window(Lake(url), spec, numbers)
    booster = LGBMClassifier(n_jobs=THREADS, random_state=42, verbose=-1, **_settings(trees).params())
    model = build_pipeline(spec, booster, scale=False, seed=42)
    model.fit(*split_xy(data.train, spec))
    X, y = split_xy(data.test, spec)
    metric = float(np.mean(model.predict(X) == y.to_numpy()))
    return {"seconds": time.perf_counter() - started, "metric": metric, "flow_peak_mb": _peak_mb()}


def dask_step(url: str, numbers: list[int], address: str, trees: int) -> dict[str, Any]:
    from distributed import Client

    from driftgate.tasks.train import fit_on_cluster, read_window, split_metrics

    spec, _ = wide_table(10, seed=0)
    with Client(address) as client:
        started = time.perf_counter()
        window = read_window(Lake(url), spec, numbers)
        fitted = fit_on_cluster(client, spec, window, _settings(trees))
        metrics = split_metrics(client, spec, window, fitted.model, splits=("test",))
        seconds = time.perf_counter() - started
        peaks = client.run(_peak_mb)
    return {
        "seconds": seconds,
        "metric": metrics["test_accuracy"],
        "flow_peak_mb": _peak_mb(),
        "worker_peak_mb": max(peaks.values()),
    }


def _child(conn: Any, path: str, url: str, numbers: list[int], address: str | None, trees: int) -> None:
    try:
        out = local_step(url, numbers, trees) if path == "local" else dask_step(url, numbers, str(address), trees)
        conn.send(out)
    except BaseException as exc:
        conn.send({"error": repr(exc)})
        raise


def isolated(path: str, url: str, numbers: list[int], address: str | None, trees: int) -> dict[str, Any]:
    """Run one path in a spawned process; its result, or an error when it fails or dies."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child, path, url, numbers, address, trees))
    proc.start()
    while not parent.poll(5):
        if not proc.is_alive():
            return {"error": f"the {path} process died (exit code {proc.exitcode})"}
    out: dict[str, Any] = parent.recv()
    proc.join()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="100000,1000000", help="window sizes, comma-separated")
    ap.add_argument("--big", action="store_true", help=f"also {BIG:,} rows (long on 2 cores)")
    ap.add_argument("--partitions", type=int, default=10, help="batches per window (one Parquet part each)")
    ap.add_argument("--trees", type=int, default=50, help="boosting rounds on both paths")
    ap.add_argument("--paths", default="local,dask")
    args = ap.parse_args()
    sizes = [int(s) for s in args.rows.split(",")] + ([BIG] if args.big else [])
    paths = args.paths.split(",")
    from distributed import LocalCluster

    print(f"# {args.trees} trees; cluster: 2 workers x 1 thread; load {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="driftgate-scale-") as tmp:
        for rows in sizes:
            url = f"file://{tmp}/lake-{rows}"
            started = time.perf_counter()
            numbers = build_lake(url, rows, args.partitions)
            took = time.perf_counter() - started
            print(f"# {rows:,} rows: {len(numbers)} batches written in {took:.0f}s", flush=True)
            for path in paths:
                if path == "dask":  # a fresh cluster: the workers' peaks are this run's
                    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
                        r = isolated(path, url, numbers, cluster.scheduler_address, args.trees)
                else:
                    r = isolated(path, url, numbers, None, args.trees)
                if "error" in r:
                    print(f"path={path} rows={rows} error={r['error']}", flush=True)
                    continue
                print(
                    f"path={path} rows={rows} seconds={r['seconds']:.1f} flow_peak_mb={r['flow_peak_mb']:.0f} "
                    f"worker_peak_mb={r.get('worker_peak_mb', 0):.0f} metric={r['metric']:.4f} "
                    f"load={os.getloadavg()[0]:.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
