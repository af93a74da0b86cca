"""Console benchmark: every page's warm latency over a real loop's state.

Without ``--home`` it runs the short synthetic loop first (data API on 127.0.0.1, five batches,
the fourth corrupt, ``continuous-training`` on Prefect's test harness, MLflow on SQLite in a temp
folder); with ``--home .driftgate`` it reads the state ``make demo`` left. Then it starts the model
service, warms each page up and times ``--requests`` sequential GETs per page (one client, loopback).
Prints, in ms per page, the first (uncached) request, then p50 / p95 / max of the warm ones. The
console re-reads the lake and the registry at most every 3 s, so a warm request is a cache hit
plus rendering; the first column is what a re-read costs (plus, for a version, its one download
of the explanation artifacts, cached for good).

    uv run python bench/console.py [--home .driftgate] [--requests 50]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def run_loop(home: Path) -> None:
    """The short synthetic loop of the browser tests, into ``home``."""
    from prefect.testing.utilities import prefect_test_harness

    from driftgate.dataset.sources import load_source
    from driftgate.dataset.spec import load_spec
    from driftgate.local.data_api import create_data_api
    from driftgate.local.servers import ServerThread
    from driftgate.settings import get_settings

    spec = load_spec("synthetic-regression", ROOT / "datasets")
    spec.scenario.corrupt_batches = [4]
    os.environ.update(DRIFTGATE_DATASET=spec.name, DRIFTGATE_SEARCH_ITER="2", DRIFTGATE_EXPLAIN_ROWS="200")
    with prefect_test_harness(), ServerThread(create_data_api(load_source(spec), spec)) as api:
        os.environ["DRIFTGATE_DATA_API_URL"] = api.url
        get_settings.cache_clear()
        from driftgate.flows.training import continuous_training

        started = time.perf_counter()
        outcomes = continuous_training()
        print(f"loop: {len(outcomes)} batches in {time.perf_counter() - started:.0f} s")


def pages(client: httpx.Client) -> dict[str, str]:
    champion = int(client.get("/model").json()["version"])
    other = champion - 1 if champion > 1 else champion
    return {
        "home": "/console",
        "predict": "/console/predict",
        "timeline": "/console/timeline",
        "versions": "/reports",
        "version": f"/reports/{champion}",
        "compare": f"/reports/compare?a={other}&b={champion}",
        "monitor": "/console/monitor",
        "api docs": "/schema",
        "stylesheet": "/static/driftgate.css",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", type=Path, help="an existing DRIFTGATE_HOME (default: run the synthetic loop)")
    ap.add_argument("--requests", type=int, default=50)
    args = ap.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="driftgate-bench-console-")) / "home"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        DRIFTGATE_HOME=str(home.resolve()),
        DRIFTGATE_DATASETS_DIR=str(ROOT / "datasets"),
        DRIFTGATE_EXPECTATIONS_DIR=str(ROOT / "expectations"),
        GX_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false",
    )
    if args.home is None:
        run_loop(home)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from driftgate.local.servers import ServerThread
    from driftgate.serving.app import create_app
    from driftgate.settings import get_settings

    get_settings.cache_clear()
    with ServerThread(create_app(get_settings())) as service, httpx.Client(base_url=service.url) as client:
        deadline = time.monotonic() + 60
        while client.get("/ready").status_code != 200:
            if time.monotonic() > deadline:
                raise SystemExit("the service never loaded a champion")
            time.sleep(0.2)
        print(f"{'page':<12} {'first ms':>9} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  path")
        for name, path in pages(client).items():
            t0 = time.perf_counter()
            assert client.get(path).status_code == 200, path
            first = (time.perf_counter() - t0) * 1000
            for _ in range(3):
                client.get(path)
            times = []
            for _ in range(args.requests):
                t0 = time.perf_counter()
                r = client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, path
            times.sort()
            p95 = times[int(0.95 * (len(times) - 1))]
            print(f"{name:<12} {first:9.1f} {statistics.median(times):8.2f} {p95:8.2f} {times[-1]:8.2f}  {path}")


if __name__ == "__main__":
    main()
