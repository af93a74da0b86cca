"""Ingestion benchmark: JSON vs Parquet transport, fetch + prepare + store, rows per second.

Starts the data API on 127.0.0.1 with 20 batches of 15,000 rows (synthetic-regression by
default) and runs the ingest path (fetch by number, normalise, split, write once) into a temp
local lake, once per transport, in the same process.

    uv run python bench/ingest.py [--batches 20] [--rows 15000] [--dataset synthetic-regression]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import httpx

from driftgate.dataset.sources import load_source
from driftgate.dataset.spec import load_spec
from driftgate.local.data_api import create_data_api
from driftgate.local.servers import ServerThread
from driftgate.policies import RetryPolicy
from driftgate.stores.lake import Lake
from driftgate.tasks.ingest import fetch_batch, prepare_batch, store_batch

ROOT = Path(__file__).resolve().parents[1]


def run(url: str, fmt: str, batches: int, spec_name: str) -> tuple[float, float, int]:
    spec = load_spec(spec_name, ROOT / "datasets")
    lake_dir = Path(tempfile.mkdtemp(prefix="driftgate-bench-lake-"))
    lake = Lake(f"file://{lake_dir}")
    policy = RetryPolicy(retries=3, backoff_s=0.1, timeout_s=60)
    rows = 0
    fetch_s = 0.0
    started = time.perf_counter()
    with httpx.Client(base_url=url) as client:
        for n in range(1, batches + 1):
            t = time.perf_counter()
            frame = fetch_batch(client, n, policy, fmt=fmt)
            fetch_s += time.perf_counter() - t
            store_batch(lake, spec, n, prepare_batch(frame, spec, n))
            rows += len(frame)
    total = time.perf_counter() - started
    shutil.rmtree(lake_dir, ignore_errors=True)
    return total, fetch_s, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--rows", type=int, default=15000)
    ap.add_argument("--dataset", default="synthetic-regression")
    args = ap.parse_args()
    spec = load_spec(args.dataset, ROOT / "datasets")
    spec.scenario.batches, spec.scenario.batch_size, spec.scenario.corrupt_batches = args.batches, args.rows, []
    with ServerThread(create_data_api(load_source(spec), spec)) as api:
        for fmt in ("parquet", "json"):  # warm the API's encode cache so both measure transport
            for n in range(1, args.batches + 1):
                httpx.get(f"{api.url}/batches/{n}", params={"format": fmt}, timeout=60)
        results = {fmt: run(api.url, fmt, args.batches, args.dataset) for fmt in ("json", "parquet")}
    print(f"{args.batches} batches x {args.rows} rows of {args.dataset}, data API on 127.0.0.1, local lake")
    print(f"{'transport':<10}{'total s':>9}{'fetch s':>9}{'rows/s':>12}{'fetch rows/s':>14}")
    for fmt, (total, fetch_s, rows) in results.items():
        print(f"{fmt:<10}{total:>9.2f}{fetch_s:>9.2f}{rows / total:>12,.0f}{rows / fetch_s:>14,.0f}")
    ratio = results["json"][0] / results["parquet"][0]
    print(f"parquet is {ratio:.1f}x faster end to end ({results['json'][1] / results['parquet'][1]:.1f}x on fetch)")


if __name__ == "__main__":
    main()
