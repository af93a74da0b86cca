"""Drift benchmark: seconds of the per-column tests and of the domain classifier, and their error rates.

1. Seconds: the full drift report for 1,000,000 rows x 20 columns against a same-size reference
   (15 numeric columns: Wasserstein/std + KS; 5 categorical: Jensen-Shannon + chi-square; a
   regression target; missing values; one numeric column shifted), the per-column tests and the
   domain classifier (on its sample of DRIFTGATE_DRIFT_MULTIVARIATE_ROWS rows a side) timed apart.
2. Rates over seeded pairs of ``--pair-rows`` rows a side: how often each view fires on stationary
   pairs (false alarms), a marginal shift (num_0 moved by 0.2 sigma) and a relation shift with
   unchanged marginals (num_1's correlation with num_0 from 0.5 to 0); and how often the retrain
   decision fires, with uniform weights and with a model that leans on num_0 and num_1.
3. False alarms (``--false-alarms N``, N >= 200 for a table worth publishing): N seeded pairs of
   the same distribution, and each detector's per-batch alarm rate with its 95 % (Wilson) interval:
   the per-column tests with Benjamini-Hochberg (any feature drifted), the domain classifier
   (drifted: AUROC threshold and test), the PCA reconstruction error (outside its band), and the
   retrain decision they feed (uniform weights).

    OMP_NUM_THREADS=1 uv run python bench/drift.py [--rows 1000000] [--pairs 50] [--pair-rows 2000]
        [--rates-only] [--false-alarms 200]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import pandas as pd

from driftgate.dataset.spec import DatasetSpec, Feature, Metric
from driftgate.policies import DriftPolicy
from driftgate.tasks.drift import compute_drift, decide, domain_classifier_drift, reconstruction_drift

SPEC = DatasetSpec(
    name="bench",
    task="regression",
    target="y",
    model_name="bench",
    source="synthetic:regression",
    metric=Metric(name="rmse", direction="minimize"),
    features=[Feature(name=f"num_{i}", type="numeric") for i in range(15)]
    + [Feature(name=f"cat_{i}", type="categorical", values=list("abcdefgh")) for i in range(5)],
)
NUMERIC = [f"num_{i}" for i in range(15)]
# a model that leans on num_0 and num_1 (a third of its importance), the rest spread evenly
IMPORTANCE = (
    {"num_0": 0.2, "num_1": 0.15}
    | {f"num_{i}": 0.65 / 18 for i in range(2, 15)}
    | {f"cat_{i}": 0.65 / 18 for i in range(5)}
)
CATEGORICAL = [f"cat_{i}" for i in range(5)]


def frame(rows: int, seed: int, shift: float = 0.0, rho: float = 0.5, y_shift: float = 0.0) -> pd.DataFrame:
    """20 columns; num_1 has correlation ``rho`` with num_0 (both standard normal whatever ``rho``); the
    target ``y`` is standard normal moved by ``y_shift`` (a label shift: the features unchanged)."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for i in range(15):
        data[f"num_{i}"] = rng.normal(0.0, 1.0, rows)
    data["num_1"] = rho * data["num_0"] + np.sqrt(1 - rho**2) * data["num_1"]  # type: ignore[operator]
    data["num_0"] = data["num_0"] + shift  # type: ignore[operator]
    for i in range(15):
        col = data[f"num_{i}"]
        col[rng.random(rows) < 0.01] = np.nan  # type: ignore[index]
    cats = np.array(list("abcdefgh"), dtype=object)
    for i in range(5):
        data[f"cat_{i}"] = cats[rng.integers(0, len(cats), rows)]
    data["y"] = rng.normal(y_shift, 1, rows)
    return pd.DataFrame(data)


def seconds(rows: int, policy: DriftPolicy) -> None:
    t = time.perf_counter()
    ref, cur = frame(rows, 1), frame(rows, 2, shift=0.2)
    build = time.perf_counter() - t
    t = time.perf_counter()
    report = compute_drift(ref, cur, SPEC, replace(policy, multivariate_rows=0), batch=1)
    per_column = time.perf_counter() - t
    t = time.perf_counter()
    mv = domain_classifier_drift(ref, cur, numeric=NUMERIC, categorical=CATEGORICAL, policy=policy)
    joint = time.perf_counter() - t
    t = time.perf_counter()
    rd = reconstruction_drift(ref, cur, numeric=NUMERIC, categorical=CATEGORICAL, policy=policy)
    pca = time.perf_counter() - t
    print(f"{rows:,} rows x 20 features + target vs a reference of the same size (data built in {build:.1f} s)")
    print(f"per-column tests: {per_column:.2f} s; drifted: {report.drifted}")
    print(
        f"domain classifier on {mv.reference_rows:,}+{mv.current_rows:,} rows, {mv.folds} folds: {joint:.2f} s "
        f"({joint / per_column:.2f}x the per-column tests); AUROC {mv.auroc:.3f}, p={mv.p_value:.2g}, "
        f"drifted {mv.drifted}, separating {mv.separating}"
    )
    print(
        f"PCA reconstruction ({rd.fit_rows:,} fit, {rd.chunks} x {rd.chunk_rows:,} calibration, "
        f"{rd.current_rows:,} current rows): {pca:.2f} s; error {rd.error:.3f} "
        f"vs band [{rd.lower:.3f}, {rd.upper:.3f}], drifted {rd.drifted}"
    )
    print(f"the two multivariate detectors together: {joint + pca:.2f} s", flush=True)


def rates(pairs: int, rows: int, policy: DriftPolicy) -> None:
    scenarios = {
        "stationary": {},
        "marginal shift (num_0 +0.2 sigma)": {"shift": 0.2},
        "relation shift (corr num_0,num_1 0.5 -> 0)": {"rho": 0.0},
        "label shift (y +0.2 sigma, features unchanged)": {"y_shift": 0.2},
    }
    print(f"\nrates over {pairs} seeded pairs of {rows:,} rows a side:")
    print(
        f"{'scenario':<47} {'per-column':>10} {'target':>6} {'joint p<alpha':>13} {'joint drift':>11} {'PCA':>5} "
        f"{'retrain (uniform)':>17} {'retrain (importance)':>20}"
    )
    for name, change in scenarios.items():
        columns = target = test = joint = pca = uniform = weighted = 0
        for i in range(pairs):
            ref = frame(rows, 100_000 + i)
            cur = frame(rows, 200_000 + i, **change)  # type: ignore[arg-type]
            report = compute_drift(ref, cur, SPEC, policy, importance=IMPORTANCE, batch=i)
            mv = report.multivariate
            assert mv is not None
            columns += bool(report.drifted)
            target += bool(report.target and report.target.drifted)
            test += mv.p_value < policy.multivariate_alpha
            joint += mv.drifted
            pca += bool(report.reconstruction and report.reconstruction.drifted)
            weighted += decide(report, policy, SPEC, has_champion=True).retrain
            flat = replace(report, weights={c: 1 / len(SPEC.drift_features) for c in SPEC.drift_features})
            uniform += decide(flat, policy, SPEC, has_champion=True).retrain
        print(
            f"{name:<47} {columns / pairs:>10.0%} {target / pairs:>6.0%} {test / pairs:>13.0%} "
            f"{joint / pairs:>11.0%} {pca / pairs:>5.0%} {uniform / pairs:>17.0%} {weighted / pairs:>20.0%}"
        )


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a rate of ``hits`` in ``n``."""
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def false_alarms(pairs: int, rows: int, policy: DriftPolicy) -> None:
    """Per-batch alarm rate of each detector over ``pairs`` same-distribution pairs."""
    counts = {"per-column (BH, q=0.05)": 0, "domain classifier": 0, "PCA reconstruction": 0, "retrain decision": 0}
    seconds = dict.fromkeys(counts, 0.0)
    for i in range(pairs):
        ref, cur = frame(rows, 300_000 + i), frame(rows, 400_000 + i)
        t = time.perf_counter()
        report = compute_drift(ref, cur, SPEC, replace(policy, multivariate_rows=0, reconstruction_rows=0), batch=i)
        seconds["per-column (BH, q=0.05)"] += time.perf_counter() - t
        t = time.perf_counter()
        mv = domain_classifier_drift(ref, cur, numeric=NUMERIC, categorical=CATEGORICAL, policy=policy)
        seconds["domain classifier"] += time.perf_counter() - t
        t = time.perf_counter()
        rd = reconstruction_drift(ref, cur, numeric=NUMERIC, categorical=CATEGORICAL, policy=policy)
        seconds["PCA reconstruction"] += time.perf_counter() - t
        full = replace(report, multivariate=mv, reconstruction=rd)
        counts["per-column (BH, q=0.05)"] += bool(report.drifted)
        counts["domain classifier"] += mv.drifted
        counts["PCA reconstruction"] += rd.drifted
        counts["retrain decision"] += decide(full, policy, SPEC, has_champion=True).retrain
    print(f"\nfalse alarms over {pairs} seeded same-distribution pairs of {rows:,} rows a side:")
    print(f"{'detector':<26} {'alarms':>7} {'rate':>6} {'95% interval':>16} {'s/pair':>7}")
    for name, hits in counts.items():
        low, high = wilson(hits, pairs)
        per = f"{seconds[name] / pairs:.2f}" if seconds[name] else "-"
        print(f"{name:<26} {hits:>7} {hits / pairs:>6.1%} {f'{low:.1%} to {high:.1%}':>16} {per:>7}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pairs", type=int, default=50)
    ap.add_argument("--pair-rows", type=int, default=2000)
    ap.add_argument("--rates-only", action="store_true", help="Skip the seconds of the 1M-row report.")
    ap.add_argument("--seconds-only", action="store_true", help="Only the seconds of the 1M-row report.")
    ap.add_argument("--false-alarms", type=int, default=0, help="Only the false-alarm table over this many pairs.")
    args = ap.parse_args()
    policy = DriftPolicy()
    if args.false_alarms:
        false_alarms(args.false_alarms, args.pair_rows, policy)
        return
    if not args.rates_only:
        seconds(args.rows, policy)
    if not args.seconds_only:
        rates(args.pairs, args.pair_rows, policy)


if __name__ == "__main__":
    main()
