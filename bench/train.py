"""Training-step benchmark: today's randomised search against the faster one, in the same run.

Times what a retrain does before the gate: the search (with its refit), evaluation and slice
metrics on held-out rows, logging + registering the model in a throwaway MLflow (SQLite), and
the SHAP explanation. Two shapes, nothing downloaded:

- ``diamonds`` (plotnine's bundled table, the demo's dataset): regression, 9 columns,
  10,500 training rows (the train split of a 3-batch window of 5,000-row batches);
- ``wide``: a seeded synthetic hospital-readmission-like table, 50 columns, 3 classes,
  three categorical columns with 700+ codes, 30,000 training rows.

    nice uv run python bench/train.py [--tables wide,diamonds] [--seeds 1] [--rows 30000]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from driftgate.frames import normalize
from driftgate.spec import DatasetSpec, Feature, Metric, load_spec
from driftgate.tasks.train import STRATEGIES, SearchSettings, search, split_xy

ROOT = Path(__file__).resolve().parents[1]
CODES = (820, 760, 710)  # levels of the three diagnosis-code columns


def wide_table(rows: int, seed: int) -> tuple[DatasetSpec, pd.DataFrame]:
    """A readmission-like table: 12 numeric, 35 low-cardinality and 3 high-cardinality columns, 3 classes."""
    rng = np.random.default_rng(seed)
    shape = np.random.default_rng(1234)  # the table's structure is the same for every seed
    data: dict[str, object] = {}
    logits = np.zeros((rows, 3))
    for i in range(12):
        counts = shape.random() < 0.5
        col = rng.poisson(shape.uniform(0.5, 20), rows).astype(float) if counts else rng.normal(0, 1, rows)
        z = (col - col.mean()) / (col.std() + 1e-9)
        logits += np.outer(z, shape.normal(0, 0.25, 3)) if i < 8 else 0.0
        col[rng.random(rows) < 0.02] = np.nan
        data[f"num_{i}"] = col
    features = [Feature(name=f"num_{i}", type="numeric") for i in range(12)]
    for i in range(35):
        n = int(shape.integers(2, 12)) if i < 30 else int(shape.integers(20, 70))
        levels = np.array([f"l{j}" for j in range(n)], dtype=object)
        p = shape.dirichlet(np.ones(n))
        idx = rng.choice(n, size=rows, p=p)
        effect = shape.normal(0, 0.3 if i < 10 else 0.05, (n, 3))
        logits += effect[idx]
        col = levels[idx]
        col[rng.random(rows) < 0.01] = None
        data[f"cat_{i}"] = col
        features.append(Feature(name=f"cat_{i}", type="categorical", values=list(levels)))
    for i, n in enumerate(CODES):
        codes = np.array([f"{k:03d}.{j % 10}" for k, j in enumerate(range(n))], dtype=object)
        p = 1.0 / np.arange(1, n + 1) ** 1.05  # a few common codes, a long tail of rare ones
        p = shape.permutation(p / p.sum())
        idx = rng.choice(n, size=rows, p=p)
        group = np.arange(n) % 17  # codes in one chapter act alike
        effect = shape.normal(0, 0.4, (17, 3))[group] + shape.normal(0, 0.2, (n, 3))
        logits += effect[idx]
        data[f"diag_{i + 1}"] = codes[idx]
        features.append(Feature(name=f"diag_{i + 1}", type="categorical", values=list(codes)))
    logits += np.log([0.54, 0.35, 0.11])
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    u = rng.random(rows)[:, None]
    data["readmitted"] = np.array(["NO", ">30", "<30"], dtype=object)[(u > prob.cumsum(axis=1)).sum(axis=1)]
    spec = DatasetSpec(
        name="wide", task="classification", target="readmitted", model_name="wide", source="synthetic:bench",
        metric=Metric(name="accuracy", direction="maximize"), features=features,
    )  # fmt: skip
    return spec, normalize(pd.DataFrame(data)[spec.columns], spec)


def diamonds(seed: int) -> tuple[DatasetSpec, pd.DataFrame]:
    from driftgate.sources import load_source

    spec = load_spec(ROOT / "datasets" / "diamonds.yaml")
    return spec, load_source(spec).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def training_step(spec: DatasetSpec, train: pd.DataFrame, test: pd.DataFrame, cfg: SearchSettings) -> dict[str, float]:
    """Search, evaluate, log + register, explain: seconds per phase and the held-out primary metric."""
    import mlflow

    from driftgate.tasks.evaluate import evaluate, slice_metrics
    from driftgate.tasks.explain import explain_sample
    from driftgate.tasks.train import log_and_register

    out: dict[str, float] = {}
    t = time.perf_counter()
    result = search(spec, train, cfg)
    out["search"] = time.perf_counter() - t
    t = time.perf_counter()
    X, y = split_xy(test, spec)
    score = evaluate(result.model, spec, X, y)[spec.metric.name]
    slice_metrics(result.model, spec, X, y)
    out["evaluate"] = time.perf_counter() - t
    t = time.perf_counter()
    with mlflow.start_run():
        log_and_register(result.model, spec, f"bench-{spec.name}", split_xy(train, spec)[0].head(5))
    out["log"] = time.perf_counter() - t
    t = time.perf_counter()
    explain_sample(result.model, spec, test, max_rows=500, max_seconds=60, seed=0)
    out["explain"] = time.perf_counter() - t
    out["total"] = sum(out.values())
    out["score"] = score
    log_line(spec, cfg, result.best_family, out)
    return out


def log_line(spec: DatasetSpec, cfg: SearchSettings, family: str, r: dict[str, float]) -> None:
    phases = " ".join(f"{k} {r[k]:6.1f}s" for k in ("search", "evaluate", "log", "explain"))
    print(f"  {cfg.strategy:8s} {phases} | total {r['total']:6.1f}s | {spec.metric.name} {r['score']:.4f} ({family})")


def compare(name: str, spec: DatasetSpec, rows: pd.DataFrame, n_train: int, n_test: int, strategies: list[str]) -> None:
    train, test = rows.iloc[:n_train], rows.iloc[n_train : n_train + n_test]
    print(f"{name}: {len(spec.features)} columns, {n_train} training rows, {len(test)} held-out rows")
    runs = {s: training_step(spec, train, test, SearchSettings(strategy=s)) for s in strategies}
    if len(strategies) >= 2:
        old, new = runs[strategies[0]], runs[strategies[1]]
        sign = 1 if spec.metric.direction == "maximize" else -1
        delta = sign * (new["score"] - old["score"])
        unit = "points" if spec.metric.name in ("accuracy", "roc_auc", "f1", "r2") else spec.metric.name
        scale = 100 if unit == "points" else 1
        print(
            f"  => {strategies[1]} vs {strategies[0]}: search {old['search'] / new['search']:.1f}x faster, "
            f"training step {old['total'] / new['total']:.1f}x faster, "
            f"held-out {spec.metric.name} {delta * scale:+.2f} {unit} (positive = better)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tables", default="wide,diamonds")
    ap.add_argument("--strategies", default="random,halving", help=f"old first, then new; of {STRATEGIES}")
    ap.add_argument("--rows", type=int, default=30_000, help="training rows of the wide table")
    ap.add_argument("--seeds", type=int, default=1, help="wide tables drawn (seeds 0..n-1)")
    args = ap.parse_args()
    strategies = args.strategies.split(",")
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore", module="mlflow")
    with tempfile.TemporaryDirectory() as home:
        import mlflow

        mlflow.set_tracking_uri(f"sqlite:///{home}/mlflow.db")
        mlflow.set_experiment("bench-train")
        print(f"cores: {os.cpu_count()}; load average before: {os.getloadavg()[0]:.2f}")
        for table in args.tables.split(","):
            if table == "diamonds":
                spec, rows = diamonds(seed=0)
                compare("diamonds", spec, rows, 10_500, 10_000, strategies)
            else:
                for seed in range(args.seeds):
                    spec, rows = wide_table(args.rows + 15_000, seed)
                    compare(f"wide (seed {seed})", spec, rows, args.rows, 15_000, strategies)
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
