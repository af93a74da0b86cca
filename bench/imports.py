"""Start-up cost of the entry modules: each imported in a fresh interpreter, ``--repeat`` times.

A CLI flow command (``driftgate run``, ``driftgate monitor`` ...) and every test that runs one in a
subprocess pays its flow module's import before the flow starts. For each entry module this prints
the minimum over the runs of the import's own time (``time.perf_counter`` around the import, in
the child) and of the child's whole wall time (interpreter start included), and which heavy
packages the import brought in. The minimum, because the 2-core machine is shared: a run can only
be slowed down by the others' load, never sped up.

``--against DIR`` compares with another tree of the package (an installed-shape copy: ``DIR/driftgate``
holding ``flows/``, ``tasks/``, ...; ``--help`` says how to make one), each run of it interleaved
with a run of this one so both see the same load:

    uv run --frozen python bench/imports.py [--repeat 7] [--modules driftgate.flows.training,...] [--against DIR]
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
if {against!r}:  # the other tree first on the path, and the editable install's finder out of the way
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    sys.path.insert(0, {against!r})
start = time.perf_counter()
import {module}
took = time.perf_counter() - start
print(json.dumps({{"import_s": took, "heavy": [h for h in {heavy!r} if h in sys.modules]}}))
"""


def once(module: str, against: str) -> tuple[float, float, list[str]]:
    """(import seconds, process wall seconds, heavy packages imported) of one fresh interpreter."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(module=module, heavy=HEAVY, against=against)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.splitlines()[-1])
    return result["import_s"], time.perf_counter() - start, result["heavy"]


def measure(module: str, repeat: int, trees: list[str]) -> dict[str, tuple[float, float, list[str]]]:
    """Per tree: (min import seconds, min wall seconds, heavy packages) over ``repeat`` interleaved runs."""
    runs: dict[str, list[tuple[float, float, list[str]]]] = {tree: [] for tree in trees}
    for run in range(repeat + 1):  # the first round, untimed, writes any stale bytecode
        for tree in trees:
            result = once(module, tree)
            if run > 0:
                runs[tree].append(result)
    return {tree: (min(r[0] for r in rs), min(r[1] for r in rs), rs[-1][2]) for tree, rs in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--modules", default=",".join(ENTRIES), help="comma-separated module names")
    parser.add_argument(
        "--against",
        default="",
        help="a folder holding another tree of the package as installed (DIR/driftgate/flows, DIR/driftgate/tasks,"
        " ...), e.g. `git archive REV driftgate cli local flows tasks serving | tar -x -C DIR` then each of cli,"
        " local, flows, tasks and serving moved into DIR/driftgate/",
    )
    args = parser.parse_args()
    trees = [args.against, ""] if args.against else [""]
    print(f"min of {args.repeat} fresh interpreters each; load {os.getloadavg()[0]:.2f} at start")
    print(f"{'module':32s} {'tree':8s} {'import s':>9s} {'wall s':>7s}  heavy packages imported")
    for module in args.modules.split(","):
        for tree, (took, wall, heavy) in measure(module, args.repeat, trees).items():
            print(f"{module:32s} {'against' if tree else 'this':8s} {took:9.2f} {wall:7.2f}  {' '.join(heavy)}")
    print(f"load {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
