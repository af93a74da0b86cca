"""Training-step benchmark: today's pipeline and search against the new ones, in the same run.

Times what a retrain does before the gate, each step in its own forked process (so its peak RSS
is its own): the search, the refit of the winner (``fit``, part of the search's wall time),
evaluation and slice metrics on held-out rows, logging + registering the model in a throwaway
MLflow (SQLite), and the SHAP explanation (500 rows). Tables, nothing downloaded:

- ``wide``: a seeded readmission-like table, 50 columns, 3 classes, three categorical columns
  with 700+ codes, 30,000 training rows (``--rows``), 15,000 held-out rows;
- ``diamonds`` (plotnine's bundled table, the demo's dataset): regression, 9 columns, 10,500
  training rows (the train split of a 3-batch window of 5,000-row batches);
- ``readmission``: a seeded table shaped like the real readmission data: 45 columns, 3 classes,
  four categorical columns with 70-800 levels, 30,000 training rows.

Strategies: ``today`` (the previous default: one-hot of every categorical, levels under 1 %
grouped, scikit-learn's halving per family), ``new`` (encoding by cardinality, budgeted halving
of all families together), ``dropped`` (the new trainer on the table without its categorical
columns of more than 100 levels, as ``driftgate init`` used to leave them out), ``random`` (the
original randomised search: 40 minutes on the wide table, never run by default), ``refit`` (a
growth retrain on a stable regime: the new trainer searches the champion's configuration on the
first two thirds of the training rows, untimed, as the previous retrain did; the timed step then
refits that configuration on all rows without a search, as a retrain below
``DRIFTGATE_SEARCH_GROWTH`` does). ``--scaling``
adds the new trainer on the wide shape at 10,000 / 100,000 / 1,000,000 training rows.

One search job and one thread (set ``OMP_NUM_THREADS=1``); the machine's load is printed with
every figure.

    OMP_NUM_THREADS=1 nice uv run python bench/train.py [--tables wide,diamonds,readmission]
        [--strategies today,new,refit] [--scaling 10000,100000] [--budget 300]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import resource
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftgate.dataset.frames import normalize
from driftgate.dataset.spec import DatasetSpec, Feature, Metric, load_spec
from driftgate.policies import SearchSettings
from driftgate.settings import Settings
from driftgate.tasks.train import search, split_xy

ROOT = Path(__file__).resolve().parents[1]
CODES = (820, 760, 710)  # levels of the wide table's three diagnosis-code columns
READMISSION_CODES = (70, 250, 700, 790)  # levels of the readmission table's four code columns
HELD_OUT = 15_000
DROPPED_ABOVE = 100  # what ``driftgate init`` used to leave out


def _codes(
    rng: np.random.Generator, shape: np.random.Generator, n: int, rows: int, effect: float
) -> tuple[list[str], Any, Any]:
    """A code column (its levels, values, logits): a few common codes, a long tail of rare ones; chapters act alike."""
    codes = np.array([f"{k:03d}.{k % 10}" for k in range(n)], dtype=object)
    p = 1.0 / np.arange(1, n + 1) ** 1.05
    p = shape.permutation(p / p.sum())
    idx = rng.choice(n, size=rows, p=p)
    chapters = max(n // 40, 5)
    logits = shape.normal(0, effect, (chapters, 3))[np.arange(n) % chapters] + shape.normal(0, effect / 2, (n, 3))
    return list(codes), codes[idx], logits[idx]


def _classes(rng: np.random.Generator, logits: np.ndarray, priors: list[float]) -> np.ndarray:
    logits = logits + np.log(priors)
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    u = rng.random(len(logits))[:, None]
    return np.array(["NO", ">30", "<30"], dtype=object)[(u > prob.cumsum(axis=1)).sum(axis=1)]


def _table(name: str, data: dict[str, Any], features: list[Feature]) -> tuple[DatasetSpec, pd.DataFrame]:
    spec = DatasetSpec(
        name=name,
        task="classification",
        target="readmitted",
        model_name=name,
        source="synthetic:bench",
        metric=Metric(name="accuracy", direction="maximize"),
        features=features,
    )
    return spec, normalize(pd.DataFrame(data)[spec.columns], spec)


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
    data["readmitted"] = _classes(rng, logits, [0.54, 0.35, 0.11])
    return _table("wide", data, features)


def readmission_table(rows: int, seed: int) -> tuple[DatasetSpec, pd.DataFrame]:
    """Shaped like the real readmission data: 10 numeric, 31 low-cardinality, 4 code columns (70-790 levels).

    Unlike the wide table, effects interact (a code's effect doubles for the oldest age band and
    half the numeric effects are thresholds), so a linear model is not the truth.
    """
    rng = np.random.default_rng(seed)
    shape = np.random.default_rng(4321)
    data: dict[str, object] = {}
    logits = np.zeros((rows, 3))
    features: list[Feature] = []
    for i in range(10):
        col = rng.poisson(shape.uniform(1, 15), rows).astype(float)
        z = (col - col.mean()) / (col.std() + 1e-9)
        signal = (z > shape.normal(0.5, 0.5)).astype(float) if i % 2 else z
        logits += np.outer(signal, shape.normal(0, 0.3, 3))
        col[rng.random(rows) < 0.03] = np.nan
        data[f"num_{i}"] = col
        features.append(Feature(name=f"num_{i}", type="numeric"))
    old = np.zeros(rows, dtype=bool)
    for i in range(31):
        n = int(shape.integers(2, 11))
        levels = np.array([f"v{j}" for j in range(n)], dtype=object)
        idx = rng.choice(n, size=rows, p=shape.dirichlet(np.ones(n) * 2))
        logits += shape.normal(0, 0.25 if i < 8 else 0.04, (n, 3))[idx]
        if i == 0:
            old = idx == 0
        col = levels[idx]
        col[rng.random(rows) < 0.01] = None
        data[f"cat_{i}"] = col
        features.append(Feature(name=f"cat_{i}", type="categorical", values=list(levels)))
    for i, n in enumerate(READMISSION_CODES):
        levels, codes, effect = _codes(rng, shape, n, rows, 0.35)
        logits += effect * np.where(old, 2.0, 1.0)[:, None]
        data[f"code_{i}"] = codes
        features.append(Feature(name=f"code_{i}", type="categorical", values=levels))
    data["readmitted"] = _classes(rng, logits, [0.54, 0.35, 0.11])
    return _table("readmission", data, features)


def diamonds(seed: int) -> tuple[DatasetSpec, pd.DataFrame]:
    from driftgate.dataset.sources import load_source

    spec = load_spec(ROOT / "datasets" / "diamonds.yaml")
    return spec, load_source(spec).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def without_many_levels(spec: DatasetSpec) -> DatasetSpec:
    """The spec without its categorical columns of more than ``DROPPED_ABOVE`` levels."""
    keep = [f for f in spec.features if f.type == "numeric" or len(f.values or []) <= DROPPED_ABOVE]
    return spec.model_copy(update={"features": keep})


def training_step(
    spec: DatasetSpec, train: pd.DataFrame, test: pd.DataFrame, cfg: SearchSettings, champion_rows: int = 0
) -> dict[str, Any]:
    """Search (with its refit), evaluate, log + register, explain: seconds per phase, metric, peak RSS.

    ``champion_rows``: first search on that many of the training rows (untimed: the champion's
    search), then refit its winner on all of them instead of searching (a same-regime retrain).
    """
    import mlflow

    from driftgate.tasks.evaluate import evaluate, slice_metrics
    from driftgate.tasks.explain import explain_sample
    from driftgate.tasks.train import log_and_register, refit_configuration

    out: dict[str, Any] = {"load": os.getloadavg()[0]}
    champion = search(spec, train.iloc[:champion_rows], cfg) if champion_rows else None
    t = time.perf_counter()
    if champion is not None:
        result = refit_configuration(spec, train, cfg, (champion.best_family, champion.best_params))
    else:
        result = search(spec, train, cfg)
    out["search"] = time.perf_counter() - t - result.refit_seconds
    out["fit"] = result.refit_seconds
    t = time.perf_counter()
    X, y = split_xy(test, spec)
    out["score"] = evaluate(result.model, spec, X, y)[spec.metric.name]
    slice_metrics(result.model, spec, X, y)
    out["evaluate"] = time.perf_counter() - t
    t = time.perf_counter()
    with mlflow.start_run():
        log_and_register(result.model, spec, f"bench-{spec.name}", split_xy(train, spec)[0].head(5))
    out["log"] = time.perf_counter() - t
    t = time.perf_counter()
    explain_sample(result.model, spec, test, max_rows=500, max_seconds=60, seed=0)
    out["shap"] = time.perf_counter() - t
    out["total"] = sum(out[k] for k in ("search", "fit", "evaluate", "log", "shap"))
    out["family"] = result.best_family
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["load"] = max(out["load"], os.getloadavg()[0])
    return out


def plain_fit(spec: DatasetSpec, train: pd.DataFrame, test: pd.DataFrame, cfg: SearchSettings) -> dict[str, Any]:
    """One plain fit of today's pipeline (one-hot, levels under 1 % grouped, gradient boosting at its defaults)."""
    from driftgate.tasks.evaluate import evaluate
    from driftgate.tasks.train import search_spaces

    pipe = search_spaces(spec, cfg.seed, "one-hot")["gradient_boosting"][0]
    X, y = split_xy(train, spec)
    t = time.perf_counter()
    pipe.fit(X, y)
    out: dict[str, Any] = {"fit": time.perf_counter() - t, "load": os.getloadavg()[0]}
    out["score"] = evaluate(pipe, spec, *split_xy(test, spec))[spec.metric.name]
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _child(
    conn: Any,
    spec: DatasetSpec,
    train: pd.DataFrame,
    test: pd.DataFrame,
    cfg: SearchSettings,
    plain: bool,
    champion_rows: int,
) -> None:
    conn.send(plain_fit(spec, train, test, cfg) if plain else training_step(spec, train, test, cfg, champion_rows))
    conn.close()


def isolated_step(
    spec: DatasetSpec,
    train: pd.DataFrame,
    test: pd.DataFrame,
    cfg: SearchSettings,
    *,
    plain: bool = False,
    champion_rows: int = 0,
) -> dict[str, Any]:
    """:func:`training_step` (or with ``plain``, :func:`plain_fit`) in a forked process: its peak RSS is its own."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, spec, train, test, cfg, plain, champion_rows))
    proc.start()
    result: dict[str, Any] = parent.recv()
    proc.join()
    return result


def settings_of(strategy: str, budget: float) -> SearchSettings:
    one_job = SearchSettings(n_jobs=1)
    if strategy == "today":
        return replace(one_job, strategy="family-halving", encoding="one-hot")
    if strategy == "random":
        return replace(one_job, strategy="random", encoding="one-hot")
    return replace(one_job, strategy="halving", encoding="cardinality", budget_s=budget)


def line(name: str, r: dict[str, Any], metric: str) -> None:
    phases = " ".join(f"{k} {r[k]:6.1f}s" for k in ("search", "fit", "evaluate", "shap", "log"))
    print(
        f"  {name:8s} {phases} | total {r['total']:6.1f}s | peak RSS {r['rss_mb']:6.0f} MB | "
        f"{metric} {r['score']:.4f} ({r['family']}) | load {r['load']:.1f}",
        flush=True,
    )


def _unit(spec: DatasetSpec) -> tuple[str, float]:
    """How a metric difference is printed: points for a score in [0, 1], else the metric's own unit."""
    return ("points", 100) if spec.metric.name in ("accuracy", "roc_auc", "f1", "r2") else (spec.metric.name, 1)


def compare(
    name: str, spec: DatasetSpec, rows: pd.DataFrame, n_train: int, strategies: list[str], budget: float
) -> None:
    train, test = rows.iloc[:n_train], rows.iloc[n_train : n_train + HELD_OUT]
    print(f"{name}: {len(spec.features)} columns, {n_train} training rows, {len(test)} held-out rows", flush=True)
    runs: dict[str, dict[str, Any]] = {}
    keep_all = [*spec.feature_names, spec.target]
    for strategy in strategies:
        used = without_many_levels(spec) if strategy == "dropped" else spec
        keep = [*used.feature_names, used.target]
        champion_rows = 2 * n_train // 3 if strategy == "refit" else 0
        runs[strategy] = isolated_step(
            used, train[keep], test[keep], settings_of(strategy, budget), champion_rows=champion_rows
        )
        if strategy == "refit":
            print(f"  (refit: the champion's configuration searched on the first {champion_rows} rows, untimed)")
        if strategy == "dropped":
            print(f"  (dropped: {len(spec.features) - len(used.features)} columns of more than {DROPPED_ABOVE} levels)")
        line(strategy, runs[strategy], spec.metric.name)
    if "new" in runs:
        one = isolated_step(spec, train[keep_all], test[keep_all], settings_of("today", budget), plain=True)
        print(
            f"  plain fit of today's pipeline (one-hot, gradient boosting at its defaults): {one['fit']:.1f}s, "
            f"{spec.metric.name} {one['score']:.4f}, load {one['load']:.1f} => the new step costs "
            f"{runs['new']['total'] / one['fit']:.1f} plain fits",
            flush=True,
        )
    if "today" in runs and "new" in runs:
        old, new = runs["today"], runs["new"]
        sign = 1 if spec.metric.direction == "maximize" else -1
        delta = sign * (new["score"] - old["score"])
        unit, scale = _unit(spec)
        own = {k: r["total"] - r["evaluate"] for k, r in (("old", old), ("new", new))}
        print(
            f"  => new vs today: training step {old['total'] / new['total']:.1f}x faster "
            f"({own['old'] / own['new']:.1f}x without evaluation, the same code for both), "
            f"held-out {spec.metric.name} {delta * scale:+.2f} {unit} (positive = better)",
            flush=True,
        )
    if "today" in runs and "refit" in runs:
        old, new = runs["today"], runs["refit"]
        sign = 1 if spec.metric.direction == "maximize" else -1
        unit, scale = _unit(spec)
        print(
            f"  => same-regime retrain (refit) vs today's: training step {old['total'] / new['total']:.1f}x faster, "
            f"held-out {spec.metric.name} {sign * (new['score'] - old['score']) * scale:+.2f} {unit} "
            "(positive = better)",
            flush=True,
        )


def scaling(sizes: list[int], budget: float) -> None:
    """The new trainer on the wide shape at growing row counts."""
    print("scaling of the new trainer, wide shape (held-out: 15,000 rows)", flush=True)
    previous: tuple[int, float] | None = None
    for n in sizes:
        spec, rows = wide_table(n + HELD_OUT, seed=0)
        r = isolated_step(spec, rows.iloc[:n], rows.iloc[n:], settings_of("new", budget))
        del rows
        ratio = ""
        if previous is not None:
            per_ten = (r["total"] / previous[1]) ** (1 / np.log10(n / previous[0]))
            ratio = f" | x{per_ten:.1f} time per 10x rows"
        line(f"{n:>8d}", r, spec.metric.name)
        print(f"           {ratio.strip(' |') or 'first point'}", flush=True)
        previous = (n, r["total"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tables", default="wide,diamonds,readmission", help="of wide, diamonds, readmission")
    ap.add_argument(
        "--strategies", default="today,new", help="of today, new, refit, dropped (readmission only), random"
    )
    ap.add_argument("--rows", type=int, default=30_000, help="training rows of the wide and readmission tables")
    ap.add_argument(
        "--budget",
        type=float,
        default=Settings.model_fields["train_budget_s"].default,
        help="search budget of the new trainer, seconds",
    )
    ap.add_argument("--scaling", default="", help="training-row counts of the scaling curve, e.g. 10000,100000,1000000")
    args = ap.parse_args()
    strategies = [s for s in args.strategies.split(",") if s]
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    import mlflow
    import shap  # noqa: F401  (imported once here, not in every forked step)

    with tempfile.TemporaryDirectory() as home:
        mlflow.set_tracking_uri(f"sqlite:///{home}/mlflow.db")
        mlflow.set_experiment("bench-train")
        threads = os.environ.get("OMP_NUM_THREADS", "unset")
        print(
            f"cores: {os.cpu_count()}; OMP_NUM_THREADS={threads}; one search job; "
            f"new trainer's budget {args.budget:.0f}s; load before: {os.getloadavg()[0]:.2f}"
        )
        for table in [t for t in args.tables.split(",") if t]:
            if table == "diamonds":
                spec, rows = diamonds(seed=0)
                compare("diamonds", spec, rows, 10_500, [s for s in strategies if s != "dropped"], args.budget)
            elif table == "readmission":
                spec, rows = readmission_table(args.rows + HELD_OUT, seed=0)
                compare(
                    "readmission",
                    spec,
                    rows,
                    args.rows,
                    [*strategies, "dropped"] if "dropped" not in strategies else strategies,
                    args.budget,
                )
            else:
                spec, rows = wide_table(args.rows + HELD_OUT, seed=0)
                compare("wide", spec, rows, args.rows, [s for s in strategies if s != "dropped"], args.budget)
        if args.scaling:
            scaling([int(n) for n in args.scaling.split(",")], args.budget)
        print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
