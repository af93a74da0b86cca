"""Should LightGBM be a single-machine model family? HistGradientBoosting against it, same rows, same encoding.

Issue #25 admits another family only where it beats ``HistGradientBoosting`` on the bench's tables
at equal time. Both get the trainer's own preprocessing (``build_pipeline``: numeric columns
imputed, categoricals by cardinality: one-hot up to ``ONE_HOT_MAX_LEVELS`` levels, cross-fitted
target encoding above), the same training rows and the same held-out rows of ``bench/train.py``'s
tables. Each family is fitted at its defaults and at a few settings of the search's space, one
thread each; the table prints fit seconds and the held-out metric, and per table the best of each
family and the fastest fit reaching within 0.3 points of the best.

    OMP_NUM_THREADS=1 nice uv run python bench/families.py [--tables wide,diamonds,readmission] [--rows 30000]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from typing import Any

import pandas as pd
from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from train import HELD_OUT, diamonds, readmission_table, wide_table  # bench/train.py: the same tables

from driftgate.dataset.spec import DatasetSpec
from driftgate.tasks.evaluate import evaluate
from driftgate.tasks.train import build_pipeline, split_xy

# (label, HistGradientBoosting params, LightGBM params): the same trees asked of both
SETTINGS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("defaults", {}, {}),
    (
        "lr 0.1, 31 leaves, early stop",
        {"learning_rate": 0.1, "max_leaf_nodes": 31, "early_stopping": True},
        {"learning_rate": 0.1, "num_leaves": 31, "n_estimators": 100},
    ),
    (
        "lr 0.05, 300 trees, 15 leaves",
        {"learning_rate": 0.05, "max_iter": 300, "max_leaf_nodes": 15, "early_stopping": True},
        {"learning_rate": 0.05, "n_estimators": 300, "num_leaves": 15},
    ),
]


def families(spec: DatasetSpec, hgb: dict[str, Any], lgbm: dict[str, Any]) -> dict[str, BaseEstimator]:
    if spec.task == "regression":
        return {
            "hist_gradient_boosting": HistGradientBoostingRegressor(random_state=0, **hgb),
            "lightgbm": LGBMRegressor(random_state=0, n_jobs=1, verbose=-1, **lgbm),
        }
    return {
        "hist_gradient_boosting": HistGradientBoostingClassifier(random_state=0, **hgb),
        "lightgbm": LGBMClassifier(random_state=0, n_jobs=1, verbose=-1, **lgbm),
    }


def compare(name: str, spec: DatasetSpec, rows: pd.DataFrame, n_train: int) -> None:
    train, test = rows.iloc[:n_train], rows.iloc[n_train : n_train + HELD_OUT]
    X, y = split_xy(train, spec)
    Xt, yt = split_xy(test, spec)
    print(f"{name}: {len(spec.features)} columns, {len(train)} training rows, {len(test)} held-out rows", flush=True)
    results: list[tuple[str, str, float, float]] = []
    for label, hgb, lgbm in SETTINGS:
        for family, estimator in families(spec, hgb, lgbm).items():
            pipe = build_pipeline(spec, estimator, scale=False)
            start = time.perf_counter()
            pipe.fit(X, y)
            seconds = time.perf_counter() - start
            score = evaluate(pipe, spec, Xt, yt)[spec.metric.name]
            results.append((family, label, seconds, score))
            print(
                f"  {family:24s} {label:32s} fit {seconds:6.1f}s  {spec.metric.name} {score:.4f}  "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    sign = 1 if spec.metric.direction == "maximize" else -1
    scale = 100 if spec.metric.name in ("accuracy", "roc_auc", "f1", "r2") else 1
    for family in ("hist_gradient_boosting", "lightgbm"):
        best = max((r for r in results if r[0] == family), key=lambda r: sign * r[3])
        print(f"  best {family}: {best[1]} ({best[2]:.1f}s) {spec.metric.name} {best[3]:.4f}")
    top = max(sign * r[3] for r in results)
    close = [r for r in results if (top - sign * r[3]) * scale <= 0.3]
    fastest = min(close, key=lambda r: r[2])
    unit = "points" if scale == 100 else spec.metric.name
    print(f"  fastest within 0.3 {unit} of the best: {fastest[0]}, {fastest[1]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tables", default="wide,diamonds,readmission")
    ap.add_argument("--rows", type=int, default=30_000)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    print(f"cores: {os.cpu_count()}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    for table in args.tables.split(","):
        if table == "diamonds":
            compare("diamonds", *diamonds(seed=0), 10_500)
        elif table == "readmission":
            compare("readmission", *readmission_table(args.rows + HELD_OUT, seed=0), args.rows)
        else:
            compare("wide", *wide_table(args.rows + HELD_OUT, seed=0), args.rows)


if __name__ == "__main__":
    main()
