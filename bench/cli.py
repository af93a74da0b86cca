"""Command start-up benchmark: each command's wall time against ``driftgate --version``, in the same run.

A throwaway home holds one dataset (synthetic-classification) with two registered versions, each
promoted once the way the gate promotes (checked as the service would load it, the verdict recorded),
so ``status``, ``promote`` and ``rollback`` do their real work (``promote 2`` then ``rollback`` moves
the champion between them). Each command runs as a subprocess of the installed entry point, the
way a person types it, ``--repeat`` times (default 5); the table gives the median wall time, the
ratio to ``--version`` in the same run, and the machine's load.

    uv run python bench/cli.py [--repeat 5] [--commands status,promote,rollback]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent / "driftgate"
DATASET = "synthetic-classification"
CSV = "size,colour,label\n" + "".join(
    f"{i % 17 + 0.5},{('red', 'blue')[i % 2]},{('yes', 'no')[i % 3 == 0]}\n" for i in range(300)
)


def commands(work: Path) -> dict[str, list[list[str]]]:
    """Each benchmarked command as the argument lists of one round."""
    return {
        "--version": [["--version"]],
        "--help": [["--help"]],
        "status": [["status"]],
        "promote": [["promote", "2"]],
        "rollback": [["rollback"]],
        "init": [["init", str(work / "shop.csv"), "--target", "label", "--force"]],
        "expectations init": [["expectations", "init", "--dataset", DATASET, "--force"]],
    }


def prepare(home: Path, work: Path) -> dict[str, str]:
    """A home with two registered versions (champion 1 then 2, so rollback has a previous one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRIFTGATE_", "PREFECT_", "MLFLOW_"))}
    datasets, expectations = work / "datasets", work / "expectations"
    datasets.mkdir(parents=True)
    expectations.mkdir()
    shutil.copy(ROOT / "datasets" / f"{DATASET}.yaml", datasets)
    shutil.copy(ROOT / "expectations" / f"{DATASET}.json", expectations)
    (work / "shop.csv").write_text(CSV)
    env.update(
        DRIFTGATE_HOME=str(home),
        DRIFTGATE_DATASET=DATASET,
        DRIFTGATE_DATASETS_DIR=str(datasets),
        DRIFTGATE_EXPECTATIONS_DIR=str(expectations),
    )
    setup = (
        "from driftgate.settings import get_settings\n"
        "from driftgate.registry.tracking import configure_mlflow\n"
        "from driftgate.dataset.spec import load_spec\n"
        "from driftgate.registry.client import promote\n"
        "from driftgate.dataset.sources import load_source\n"
        "from driftgate.local.quick_model import register_quick_model\n"
        "s = get_settings(); client = configure_mlflow(s); spec = load_spec(s.dataset, s.datasets_dir)\n"
        "rows = load_source(spec).head(2000)\n"
        "for seed in (1, 2):\n"
        "    v, _ = register_quick_model(spec, spec.model_name, rows, seed=seed, max_iter=10)\n"
        "    promote(client, spec.model_name, v, spec)  # checked and its verdict recorded, as the gate does\n"
    )
    subprocess.run([sys.executable, "-c", setup], env=env, check=True, capture_output=True, cwd=work)
    return env


def time_once(args: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    out = subprocess.run([str(EXE), *args], env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"driftgate {' '.join(args)} failed:\n{out.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--commands", default="", help="Comma-separated subset (default: all).")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="driftgate-bench-cli-") as tmp:
        home, work = Path(tmp) / "home", Path(tmp) / "work"
        env = prepare(home, work)
        table = commands(work)
        chosen = [c for c in opts.commands.split(",") if c] or list(table)
        times: dict[str, list[float]] = {name: [] for name in ["--version", *[c for c in chosen if c != "--version"]]}
        for _ in range(opts.repeat):  # interleaved, so a burst of load hits every command alike
            for name in times:
                times[name].append(sum(time_once(args, env, work) for args in table[name]))
        base = statistics.median(times["--version"])
        load = os.getloadavg()[0]
        print(f"median of {opts.repeat} runs, load {load:.1f} on {os.cpu_count()} cores")
        print(f"{'command':<20} {'median s':>9} {'x --version':>12}")
        for name, values in times.items():
            median = statistics.median(values)
            print(f"{name:<20} {median:>9.2f} {median / base:>12.1f}")


if __name__ == "__main__":
    main()
