"""Where held-out scores of time-ordered data come from, and what the defaults of issue #36 rest on.

On the project's seeded time-ordered table (``driftgate.dataset.synthetic.make_time_ordered_frame``:
neighbouring rows share a hidden state that lasts about ``mean_run`` rows), a gradient-boosting
model is fitted per batch of 2,000 rows the way driftgate splits it, and scored on three sets of rows:

- ``random``: 15 % of the batch drawn at random (the split without a time order), after training
  on 70 % drawn at random;
- ``latest``: the batch's latest 15 % after training on its first 70 % minus ``gap`` rows;
- ``next``: every row of the next batch, where the model serves.

It prints, per persistence length, the mean optimism (held-out minus next batch) of both splits, with
and without a gap, and what a refit on every row of the batch (``DRIFTGATE_REFIT_ON_ALL``) delivers
on the next batch against the fit on the training rows only (mean difference ± its standard error).

    OMP_NUM_THREADS=1 uv run python bench/time_order.py [--runs 150,600,1500] [--seeds 3,4]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from driftgate.dataset.synthetic import make_time_ordered_frame

FEATURES = ["level_0", "level_1", "signal_0", "signal_1", "noise_0"]
BATCH, ROWS = 2000, 20_000
TRAIN, TEST_FROM = 1400, 1700  # 70 % train, 15 % validation, the latest 15 % test


def fit(X: np.ndarray, y: np.ndarray) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(max_iter=200, early_stopping=True, random_state=0).fit(X, y)


def measure(mean_run: int, seeds: list[int], gap: int) -> dict[str, float]:
    rows = []
    for seed in seeds:
        frame = make_time_ordered_frame(ROWS, seed, mean_run=mean_run)
        X, y = frame[FEATURES].to_numpy(), (frame["direction"] == "up").to_numpy()
        rng = np.random.default_rng(seed)
        for k in range(ROWS // BATCH - 1):
            Xb, yb = X[k * BATCH : (k + 1) * BATCH], y[k * BATCH : (k + 1) * BATCH]
            Xn, yn = X[(k + 1) * BATCH : (k + 2) * BATCH], y[(k + 1) * BATCH : (k + 2) * BATCH]
            order = rng.permutation(BATCH)
            shuffled = fit(Xb[order[:TRAIN]], yb[order[:TRAIN]])
            timed = fit(Xb[: TRAIN - gap], yb[: TRAIN - gap])
            refit = fit(Xb, yb)
            rows.append(
                (
                    shuffled.score(Xb[order[TEST_FROM:]], yb[order[TEST_FROM:]]) - shuffled.score(Xn, yn),
                    timed.score(Xb[TEST_FROM:], yb[TEST_FROM:]) - timed.score(Xn, yn),
                    refit.score(Xn, yn) - timed.score(Xn, yn),
                )
            )
    a = np.asarray(rows)
    return {
        "random": float(a[:, 0].mean()),
        "latest": float(a[:, 1].mean()),
        "refit": float(a[:, 2].mean()),
        "refit_se": float(a[:, 2].std(ddof=1) / np.sqrt(len(a))),
        "pairs": float(len(a)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="150,600,1500", help="persistence lengths of the hidden state (rows)")
    parser.add_argument("--seeds", default="3,4")
    parser.add_argument("--gaps", default="0,100")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"load average {os.getloadavg()[0]:.1f}; batches of {BATCH} rows, {ROWS} rows per seed, seeds {seeds}")
    print(
        "state lasts  gap  optimism random split  optimism latest rows  refit on all minus train-rows fit (next batch)"
    )
    for mean_run in (int(r) for r in args.runs.split(",")):
        for gap in (int(g) for g in args.gaps.split(",")):
            m = measure(mean_run, seeds, gap)
            print(
                f"{mean_run:<11} {gap:<4} {m['random']:+.4f}                {m['latest']:+.4f}                "
                f"{m['refit']:+.4f} ± {m['refit_se']:.4f} ({m['pairs']:.0f} pairs)"
            )


if __name__ == "__main__":
    main()
