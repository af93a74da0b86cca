"""Start-up cost of the entry modules: each imported in a fresh interpreter, ``--repeat`` times.

A CLI flow command (``driftgate run``, ``driftgate monitor`` ...) and every test that runs one in a
subprocess pays its flow module's import before the flow starts. For each entry module this prints
the minimum over the runs of the import's own time (``time.perf_counter`` around the import, in
the child) and of the child's whole wall time (interpreter start included), and which heavy
packages the import brought in. The minimum, because the 2-core machine is shared: a run can only
be slowed down by the others' load, never sped up.

    uv run --frozen python bench/imports.py [--repeat 7] [--modules driftgate.flows.training,...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ENTRIES = [
    "driftgate.cli",  # what the `driftgate` entry point imports before it parses the command
    "driftgate.flows.training",  # driftgate run
    "driftgate.flows.ingest",  # driftgate ingest
    "driftgate.flows.monitor",  # driftgate monitor
    "driftgate.flows.batch_predict",  # driftgate predict-batch
    "driftgate.flows.backtest",  # driftgate backtest
    "driftgate.serving.app",  # driftgate serve
]
# a package, or a module of one where the package itself is imported anyway (MLflow imports scipy.sparse)
HEAVY = [
    "scipy",
    "scipy.stats",
    "dask",
    "distributed",
    "lightgbm",
    "sklearn",
    "shap",
    "great_expectations",
    "mlflow",
    "prefect",
    "litestar",
    "sqlalchemy",
    "jinja2",
    "matplotlib",
    "pandas",
    "pyarrow",
]

CHILD = """
import json, sys, time
start = time.perf_counter()
import {module}
took = time.perf_counter() - start
print(json.dumps({{"import_s": took, "heavy": [h for h in {heavy!r} if h in sys.modules]}}))
"""


def measure(module: str, repeat: int) -> tuple[float, float, list[str]]:
    """(min import seconds, min process wall seconds, heavy packages imported) over ``repeat`` fresh runs."""
    imports, walls, heavy = [], [], []
    for run in range(repeat + 1):  # the first run, untimed, writes any stale bytecode
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", CHILD.format(module=module, heavy=HEAVY)],
            capture_output=True,
            text=True,
            check=True,
        )
        if run == 0:
            continue
        walls.append(time.perf_counter() - start)
        result = json.loads(out.stdout.splitlines()[-1])
        imports.append(result["import_s"])
        heavy = result["heavy"]
    return min(imports), min(walls), heavy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--modules", default=",".join(ENTRIES), help="comma-separated module names")
    args = parser.parse_args()
    print(f"min of {args.repeat} fresh interpreters each; load {os.getloadavg()[0]:.2f} at start")
    print(f"{'module':32s} {'import s':>9s} {'wall s':>7s}  heavy packages imported")
    for module in args.modules.split(","):
        took, wall, heavy = measure(module, args.repeat)
        print(f"{module:32s} {took:9.2f} {wall:7.2f}  {' '.join(heavy)}")
    print(f"load {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
