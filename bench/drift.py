"""Drift benchmark: the full drift report for 1,000,000 rows x 20 columns against a same-size reference.

15 numeric columns (Wasserstein/std + KS) and 5 categorical (Jensen-Shannon + chi-square),
a regression target (label drift) and missing values; one numeric column is shifted.

    uv run python bench/drift.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from driftgate.policies import DriftPolicy
from driftgate.spec import DatasetSpec, Feature, Metric
from driftgate.tasks.drift import compute_drift, decide


def frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for i in range(15):
        col = rng.normal(shift if i == 0 else 0.0, 1.0, rows)
        col[rng.random(rows) < 0.01] = np.nan
        data[f"num_{i}"] = col
    cats = np.array(list("abcdefgh"), dtype=object)
    for i in range(5):
        data[f"cat_{i}"] = cats[rng.integers(0, len(cats), rows)]
    data["y"] = rng.normal(0, 1, rows)
    return pd.DataFrame(data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    spec = DatasetSpec(
        name="bench",
        task="regression",
        target="y",
        model_name="bench",
        source="synthetic:regression",
        metric=Metric(name="rmse", direction="minimize"),
        features=[Feature(name=f"num_{i}", type="numeric") for i in range(15)]
        + [Feature(name=f"cat_{i}", type="categorical", values=list("abcdefgh")) for i in range(5)],
    )
    t = time.perf_counter()
    ref, cur = frame(args.rows, 1), frame(args.rows, 2, shift=0.2)
    build = time.perf_counter() - t
    policy = DriftPolicy()
    t = time.perf_counter()
    report = compute_drift(ref, cur, spec, policy, batch=1)
    seconds = time.perf_counter() - t
    decision = decide(report, policy, spec, has_champion=True)
    print(f"{args.rows:,} rows x 20 features + target vs a reference of the same size (data built in {build:.1f} s)")
    print(f"drift report: {seconds:.2f} s; drifted: {report.drifted}; retrain: {decision.retrain}")


if __name__ == "__main__":
    main()
