"""DeLong's paired test of the gate, ranking with ``scipy.stats.rankdata`` (before #39) and with
``midranks`` (now): the same intervals, in less CPU time.

DeLong's test ranks each model's scores three times per group (all rows, the positives, the
negatives). ``rankdata`` spends most of a small group's time in its array-API dispatch;
``midranks`` sorts and averages the tied ranks with plain NumPy. Ranks are half-integers, exact in
floating point either way, so every interval is equal to the last bit: both implementations'
results are compared on every case.

Cases: a binary ROC AUC with ten slices (two categorical features of five levels), at the rate
tests' 2,250 rows (tests/unit/test_gate_rates.py: hundreds of such trials per test) and larger.

    OMP_NUM_THREADS=1 uv run python bench/gate_delong.py [--rows 2250 10000 100000] [--repeat 15]

Prints the least CPU seconds of ``--repeat`` runs of each implementation (alternating; CPU time of
this process, less inflated than wall time on a shared machine) and their ratio.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from unittest import mock

import numpy as np
from scipy.stats import rankdata

from driftgate.models.predict import Predictions
from driftgate.tasks.evaluate import _compare, paired_differences

LEVELS = np.array(list("abcde"))


def case(rows: int, seed: int) -> tuple[np.ndarray, Predictions, Predictions, dict[str, np.ndarray]]:
    """Labels, two correlated classifiers' probabilities, and the rows of "all" and of each slice."""
    rng = np.random.default_rng(seed)
    cats = [rng.choice(LEVELS, rows, p=[0.3, 0.25, 0.2, 0.15, 0.1]), rng.choice(LEVELS, rows)]
    groups = {"all": np.ones(rows, bool)}
    groups |= {f"cat_{k}={lv}": c == lv for k, c in enumerate(cats) for lv in LEVELS}
    truth = rng.random(rows) < 1 / 3
    shared = rng.normal(size=rows)
    preds = []
    for d in (1.47, 1.5):
        p = 1 / (1 + np.exp(-(d * truth + 0.9 * shared + 0.45 * rng.normal(size=rows) - 1)))
        preds.append(Predictions(np.where(p > 0.5, "1", "0").astype(object), np.c_[1 - p, p], ["0", "1"]))
    return np.where(truth, "1", "0"), preds[0], preds[1], groups


def timed(run: Callable[[], object], repeat: int) -> tuple[float, float, object, object]:
    """The least CPU time of ``repeat`` runs of each implementation, alternating; their last results."""
    before = after = float("inf")
    old = new = None
    for _ in range(repeat):
        with mock.patch.object(_compare, "midranks", rankdata):
            start = time.process_time()
            old = run()
            before = min(before, time.process_time() - start)
        start = time.process_time()
        new = run()
        after = min(after, time.process_time() - start)
    return before, after, old, new


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[2250, 10_000, 100_000])
    ap.add_argument("--repeat", type=int, default=15, help="runs of each implementation per case")
    args = ap.parse_args()
    print(f"{'rows':>7} {'groups':>6} {'rankdata cpu s':>14} {'midranks cpu s':>14} {'ratio':>6}  equal")
    for rows in args.rows:
        y, champion, challenger, groups = case(rows, seed=rows)
        run = partial(paired_differences, "roc_auc", y, champion, challenger, groups, positive="1")
        before, after, old, new = timed(run, args.repeat)
        assert new == old, (new, old)  # every group's Difference, to the last bit
        print(f"{rows:>7} {len(groups):>6} {before:>14.4f} {after:>14.4f} {before / after:>5.2f}x  yes")


if __name__ == "__main__":
    main()
