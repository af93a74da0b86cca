"""Two processes fitting gradient boosting at once, with OpenMP's default threads and with one each.

Why ``tests/conftest.py`` gives each xdist worker one OpenMP/BLAS thread (docs/development.md, "one
thread a worker"): on 2 cores, two processes that each start one OpenMP thread per core spin on each
other's cores. Each process fits ``--fits`` small ``HistGradientBoostingRegressor`` models (2,000 rows,
12 columns, 100 iterations) in a fresh interpreter, alone and then two at once; the table gives the
seconds each took and the slowdown of two at once against alone.

    uv run --frozen python bench/threads.py [--fits 40]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

FIT = """
import time, numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
rng = np.random.default_rng(0)
X, y = rng.normal(size=(2000, 12)), rng.normal(size=2000)
started = time.perf_counter()
params = dict(max_iter=100, learning_rate=0.05, max_leaf_nodes=8, min_samples_leaf=40)  # the DLE loss models'
for i in range({fits}):
    HistGradientBoostingRegressor(random_state=i, **params).fit(X, y)
print(time.perf_counter() - started)
"""


def run(processes: int, fits: int, threads: str | None) -> list[float]:
    """Seconds of fitting in each of ``processes`` interpreters started together."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if threads is not None:
        env["OMP_NUM_THREADS"] = threads
    code = FIT.format(fits=fits)
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    return [float(p.communicate()[0]) for p in procs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=40, help="models fitted by each process")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, {args.fits} fits a process, load {os.getloadavg()[0]:.2f}")
    print(f"{'OpenMP threads':<16}{'alone s':>9}{'two at once s':>16}{'slowdown':>10}")
    for label, threads in (("default", None), ("1", "1")):
        [alone] = run(1, args.fits, threads)
        both = run(2, args.fits, threads)
        print(f"{label:<16}{alone:>9.2f}{max(both):>16.2f}{max(both) / alone:>9.1f}x")


if __name__ == "__main__":
    main()
