"""What calendar features buy on a table with a daily cycle, and what they cost on one without.

On the project's seeded time-ordered table (``driftgate.dataset.synthetic.make_time_ordered_frame`` with a
daily cycle of strength ``daily`` in the label's log-odds), a gradient-boosting model is fitted per
batch of 2,000 rows on the batch's rows without and with the calendar features ``init`` adds to a
timestamp time column (hour, day of week, month, derived by ``driftgate.dataset.frames.add_calendar``, the
function every stage uses), and scored on every row of the next batch, where it would serve. It
prints, per cycle strength, the mean next-batch accuracy of both and their mean difference ± its
standard error (paired by batch). Then, with no cycle, the optimism (held-out accuracy on the batch's
latest 15 % of a fit on its first 70 %, minus the next-batch accuracy of the refit on the whole batch)
with no calendar, with the hour and day of week, and with the month too: why ``init`` learns a month
only from two years of data.

    OMP_NUM_THREADS=1 uv run python bench/calendar_features.py [--daily 0,0.8,1.6] [--seeds 3,4]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from driftgate.dataset.frames import add_calendar
from driftgate.dataset.spec import DatasetSpec
from driftgate.dataset.synthetic import make_time_ordered_frame

FEATURES = ["level_0", "level_1", "signal_0", "signal_1", "noise_0"]
CALENDAR = ["ts_hour", "ts_day_of_week", "ts_month"]
BATCH, ROWS = 2000, 20_000
SPEC = DatasetSpec.model_validate(
    {
        "name": "bench",
        "task": "classification",
        "target": "direction",
        "model_name": "bench-model",
        "source": "x.csv",
        "metric": {"name": "accuracy", "direction": "maximize"},
        "features": [{"name": c, "type": "numeric"} for c in [*FEATURES, *CALENDAR]],
        "time": {"column": "ts", "calendar": ["hour", "day_of_week", "month"]},
    }
)


def next_batch_accuracy(columns: list[str], daily: float, seeds: list[int]) -> np.ndarray:
    scores = []
    for seed in seeds:
        frame = add_calendar(make_time_ordered_frame(ROWS, seed, daily=daily), SPEC)
        X, y = frame[columns].to_numpy(), (frame["direction"] == "up").to_numpy()
        for k in range(ROWS // BATCH - 1):
            batch, after = slice(k * BATCH, (k + 1) * BATCH), slice((k + 1) * BATCH, (k + 2) * BATCH)
            model = HistGradientBoostingClassifier(max_iter=200, early_stopping=True, random_state=0)
            scores.append(model.fit(X[batch], y[batch]).score(X[after], y[after]))
    return np.asarray(scores)


def optimism(columns: list[str], seeds: list[int]) -> tuple[float, float, float]:
    """Mean held-out minus next-batch accuracy, its standard error, and the mean next-batch accuracy."""
    gaps, served = [], []
    for seed in seeds:
        frame = add_calendar(make_time_ordered_frame(ROWS, seed), SPEC)
        X, y = frame[columns].to_numpy(), (frame["direction"] == "up").to_numpy()
        for k in range(ROWS // BATCH - 1):
            Xb, yb = X[k * BATCH : (k + 1) * BATCH], y[k * BATCH : (k + 1) * BATCH]
            Xn, yn = X[(k + 1) * BATCH : (k + 2) * BATCH], y[(k + 1) * BATCH : (k + 2) * BATCH]
            judged = HistGradientBoostingClassifier(max_iter=200, early_stopping=True, random_state=0)
            judged.fit(Xb[:1400], yb[:1400])
            refit = HistGradientBoostingClassifier(max_iter=200, early_stopping=True, random_state=0).fit(Xb, yb)
            served.append(refit.score(Xn, yn))
            gaps.append(judged.score(Xb[1700:], yb[1700:]) - served[-1])
    a = np.asarray(gaps)
    return float(a.mean()), float(a.std(ddof=1) / np.sqrt(len(a))), float(np.mean(served))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--daily", default="0,0.8,1.6")
    parser.add_argument("--seeds", default="3,4")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; seeds {seeds}")
    print(f"{'daily':>6} {'without':>8} {'with':>8} {'with - without':>20}")
    for daily in (float(d) for d in args.daily.split(",")):
        without = next_batch_accuracy(FEATURES, daily, seeds)
        with_calendar = next_batch_accuracy([*FEATURES, *CALENDAR], daily, seeds)
        diff = with_calendar - without
        se = diff.std(ddof=1) / np.sqrt(len(diff))
        print(f"{daily:6.1f} {without.mean():8.3f} {with_calendar.mean():8.3f} {diff.mean():+11.3f} ± {se:.3f}")
    print(f"\nno cycle: {'features':>22} {'optimism':>16} {'next batch':>11}")
    for label, columns in (
        ("no calendar", FEATURES),
        ("hour, day of week", [*FEATURES, *CALENDAR[:2]]),
        ("hour, day, month", [*FEATURES, *CALENDAR]),
    ):
        mean, se, served = optimism(columns, seeds)
        print(f"{'':10}{label:>22} {mean:+9.3f} ± {se:.3f} {served:11.3f}")


if __name__ == "__main__":
    main()
