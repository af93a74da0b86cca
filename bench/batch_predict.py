"""Batch-predict benchmark: what checking every row with the input contract costs next to scoring it.

Reads a CSV of N rows of the synthetic classification dataset (1 % of them broken), checks the
rows with the contract, scores the valid ones with a gradient-boosting pipeline. Prints the
seconds of each step and the ratio check / score, all from one run.

    uv run python bench/batch_predict.py [--rows 200000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import fsspec
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from driftgate.dataset.frames import normalize
from driftgate.dataset.spec import load_spec
from driftgate.dataset.synthetic import make_frame
from driftgate.models.contract import InputContract
from driftgate.models.predict import predict
from driftgate.tasks.scoring import check_rows, read_input
from driftgate.tasks.train import build_pipeline, split_xy

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    spec = load_spec("synthetic-classification", ROOT / "datasets")
    train = normalize(make_frame("classification", 5000, seed=0)[spec.columns], spec)
    model = build_pipeline(spec, HistGradientBoostingClassifier(max_iter=50), scale=False).fit(*split_xy(train, spec))
    frame = normalize(make_frame("classification", args.rows, seed=1)[spec.columns], spec).astype({"num_0": object})
    bad = np.random.default_rng(0).choice(args.rows, args.rows // 100, replace=False)
    frame.loc[bad, "num_0"] = "abc"
    contract = InputContract.from_spec(spec, args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "rows.csv")
        frame.to_csv(path, index=False)
        fs = fsspec.filesystem("file")
        t0 = time.perf_counter()
        file = read_input(fs, path, spec)
        t1 = time.perf_counter()
        check = check_rows(file, contract)
        t2 = time.perf_counter()
        predict(model, spec.task, check.model_input)
        t3 = time.perf_counter()
    print(f"rows {args.rows}  valid {int(check.valid.sum())}  rejected {len(check.rejected)}")
    print(f"read {t1 - t0:.2f} s  check {t2 - t1:.2f} s  score {t3 - t2:.2f} s")
    print(f"check / score = {(t2 - t1) / (t3 - t2):.2f}   check rows/s = {args.rows / (t2 - t1):,.0f}")


if __name__ == "__main__":
    main()
