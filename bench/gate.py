"""Gate benchmark: the gate's own time (paired test + every slice) on stored predictions.

Models are not scored here: the gate's statistics start from both models' predictions, so the
numbers are the cost the gate adds on top of two ``predict`` calls. Two synthetic datasets
(two categorical features of five levels each, so ten slices of 200+ rows):

- classification, ROC AUC: DeLong's test on every group;
- regression, RMSE: the paired bootstrap (``--resamples``, default 1,000) on every group.

    uv run python bench/gate.py [--rows 10000 100000] [--resamples 1000] [--repeat 3]

Prints wall and CPU seconds (CPU: this process, all its threads; wall is inflated when other
work shares the cores). ``OPENBLAS_NUM_THREADS=1`` keeps BLAS from fighting over busy cores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from driftgate.dataset.spec import DatasetSpec, Feature, Metric
from driftgate.models.predict import Predictions
from driftgate.policies import GatePolicy
from driftgate.tasks.gate import evaluate_challenger

LEVELS = list("abcde")


def spec(task: str) -> DatasetSpec:
    metric = (
        Metric(name="roc_auc", direction="maximize")
        if task == "classification"
        else Metric(name="rmse", direction="minimize")
    )
    feats = [Feature(name=f"cat_{i}", type="categorical", values=LEVELS) for i in range(2)]
    return DatasetSpec(
        name=f"bench-{task}",
        task=task,
        target="y",
        features=feats,
        metric=metric,  # type: ignore[arg-type]
        model_name="bench",
        source="synthetic:" + task,
    )


def inputs(task: str, rows: int, seed: int) -> tuple[pd.DataFrame, Predictions, Predictions]:
    rng = np.random.default_rng(seed)
    cats = {f"cat_{i}": rng.choice(LEVELS, rows) for i in range(2)}
    if task == "classification":
        y = rng.random(rows) < 0.3
        preds = []
        for d in (1.4, 1.5):
            p = 1 / (1 + np.exp(-(d * y + rng.normal(size=rows) - 1)))
            preds.append(Predictions(np.where(p > 0.5, "1", "0").astype(object), np.c_[1 - p, p], ["0", "1"]))
        return pd.DataFrame({**cats, "y": np.where(y, "1", "0")}), preds[0], preds[1]
    yr = rng.normal(10, 3, rows)
    a, b = (Predictions(yr + rng.normal(0, s, rows), None, []) for s in (1.0, 0.97))
    return pd.DataFrame({**cats, "y": yr}), a, b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3, help="runs per case; the fastest is printed")
    args = ap.parse_args()
    policy = GatePolicy(resamples=args.resamples, slice_min_rows=200)
    print(f"{'task':<15} {'rows':>8} {'test':<17} {'slices':>6} {'wall s':>8} {'cpu s':>8} {'outcome':<12}")
    for task in ("classification", "regression"):
        s = spec(task)
        for rows in args.rows:
            frame, champion, challenger = inputs(task, rows, seed=rows)
            wall = cpu = float("inf")
            for _ in range(args.repeat):
                start, start_cpu = time.perf_counter(), time.process_time()
                result = evaluate_challenger(s, frame, challenger, champion, policy=policy)
                wall, cpu = min(wall, time.perf_counter() - start), min(cpu, time.process_time() - start_cpu)
            line = f"{task:<15} {rows:>8} {result.test:<17} {len(result.slices):>6} {wall:>8.3f} {cpu:>8.3f}"
            print(f"{line} {result.outcome:<12}")


if __name__ == "__main__":
    main()
