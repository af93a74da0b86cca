"""The search's candidate runs logged to MLflow, a call each (before #39) and in three writes (now).

Before: each candidate's nested run was created, then given its parameters, its cross-validated
score and its ``rank_in_family`` tag in three more calls, then ended: five writes, each a commit
(and its fsync) on a SQLite store, a request on a tracking server. Now the tag goes with the run's
creation and the parameters with the score in one batch (``log_candidates``): three writes.

Both ways log the same candidates under a parent run of a fresh SQLite store in a temporary
folder (on the disk of ``--dir``, default the current folder: a disk's fsync is the cost); what
each nested run holds (parameters, metrics, tags but MLflow's own) is compared.

    uv run python bench/candidate_runs.py [--candidates 12] [--repeat 3] [--dir .]

Prints the fastest wall seconds of each way and their ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

from driftgate.dataset.spec import load_spec
from driftgate.tasks.train._pipeline import Candidate
from driftgate.tasks.train._run import log_candidates

ROOT = Path(__file__).resolve().parents[1]


def log_candidates_before(experiment_id: str, spec: Any, candidates: list[Any]) -> None:
    """The loop train_and_register ran before #39."""
    for i, cand in enumerate(candidates):
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"{cand.family}-{i}", nested=True):
            mlflow.log_params({"family": cand.family, **cand.params})
            mlflow.log_metric(f"cv_{spec.metric.name}_score", cand.cv_score)
            mlflow.set_tag("rank_in_family", str(cand.rank))


def recorded(client: MlflowClient, parent: str) -> list[tuple[Any, ...]]:
    """Each nested run's name, parameters, metrics (key, value, step) and own tags."""
    runs = client.search_runs([client.get_run(parent).info.experiment_id], f"tags.mlflow.parentRunId = '{parent}'")
    out = []
    for run in sorted(runs, key=lambda r: r.info.run_name):
        metrics = sorted(
            (m.key, m.value, m.step) for k in run.data.metrics for m in client.get_metric_history(run.info.run_id, k)
        )
        tags = {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}
        out.append((run.info.run_name, run.data.params, metrics, tags))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=Path("."))
    args = ap.parse_args()
    spec = load_spec("diamonds", ROOT / "datasets")
    candidates = [
        Candidate(family=f, params={"alpha": 0.1 * i, "depth": i}, cv_score=-1000.0 + i, rank=i % 3 + 1)
        for i, f in enumerate(["linear", "lightgbm", "hist_gradient_boosting"] * (args.candidates // 3))
    ]
    best = {"before": float("inf"), "now": float("inf")}
    held: dict[str, list[tuple[Any, ...]]] = {}
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-candidates-") as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        mlflow.set_tracking_uri(uri)
        client = MlflowClient(uri)
        experiment = client.create_experiment("bench", artifact_location=f"{tmp}/artifacts")
        for _ in range(args.repeat):
            for way, log in (("before", log_candidates_before), ("now", log_candidates)):
                with mlflow.start_run(experiment_id=experiment, run_name=way) as parent:
                    start = time.perf_counter()
                    log(experiment, spec, candidates)
                    best[way] = min(best[way], time.perf_counter() - start)
                held[way] = recorded(client, parent.info.run_id)
    assert held["before"] == held["now"], "the nested runs differ"
    print(
        f"{len(candidates)} candidate runs, SQLite store in {args.dir.resolve()}: the same parameters, scores and tags"
    )
    ratio = best["before"] / best["now"]
    print(f"before (a call each): {best['before']:.3f} s; now (three writes a run): {best['now']:.3f} s; {ratio:.2f}x")


if __name__ == "__main__":
    main()
