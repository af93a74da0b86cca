"""Validation benchmark: the GX suite on a 15,000-row batch, after the context is built.

uv run python bench/validate.py [--rows 15000] [--dataset diamonds] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from driftgate.dataset.scenario import make_batch, plan_batches
from driftgate.dataset.sources import load_source
from driftgate.dataset.spec import load_spec
from driftgate.tasks.validate import load_suite, validate_frame

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=15000)
    ap.add_argument("--dataset", default="diamonds")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    spec = load_spec(args.dataset, ROOT / "datasets")
    spec.scenario.batch_size, spec.scenario.corrupt_batches = args.rows, []
    frame = load_source(spec)
    batch = make_batch(frame, spec, plan_batches(frame, spec), 1)
    started = time.perf_counter()
    suite = load_suite(ROOT / "expectations" / f"{spec.name}.json")
    first = validate_frame(batch, suite, spec.name, 1)  # builds the GX context and batch definition
    cold = time.perf_counter() - started
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        result = validate_frame(batch, suite, spec.name, 1)
        times.append(time.perf_counter() - t)
    assert result.success == first.success
    with_docs = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        validate_frame(batch, suite, spec.name, 1, data_docs=True)
        with_docs.append(time.perf_counter() - t)
    print(f"{spec.name}: {len(batch)} rows, {len(suite.expectations)} expectations, success={result.success}")
    print(f"first run (context + suite + validation): {cold:.2f} s")
    print(f"warm validation: median {statistics.median(times):.3f} s, min {min(times):.3f} s over {args.repeat}")
    print(f"warm validation + GX Data Docs: median {statistics.median(with_docs):.3f} s")


if __name__ == "__main__":
    main()
