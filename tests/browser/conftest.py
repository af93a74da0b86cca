"""A short real loop, the service over it, and Debian's Chromium driven by Playwright.

The loop is the one of tests/integration/test_loop.py: the data API on 127.0.0.1 serves five
synthetic batches (the fourth corrupt, so quarantined), ``continuous-training`` runs on the Prefect
test harness with MLflow on SQLite in a temp folder, then the model service starts over that state.
Then what a reader must also see: a version the safe loader refuses (logged with cloudpickle, refused
by the gate's own check, so its run carries the reason), and a ``monitor-predictions`` run started
with ``--no-trigger`` over live predictions (shifted inputs) and their labels sent to ``/feedback``.
The browser is /usr/bin/chromium from Debian (``make browser``); Playwright never downloads one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import ROOT, ServerThread

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DATASET = "synthetic-regression"


@dataclass
class Loop:
    url: str
    outcomes: list[Any]
    lake_root: Path
    refused: str = ""
    monitor: Any = None


def register_refused_version(spec: Any, model_name: str) -> str:
    """A version logged with cloudpickle: the gate's servability check refuses it and tags its run."""
    import mlflow
    import numpy as np
    from sklearn.dummy import DummyRegressor

    from driftgate.errors import ModelLoadError
    from driftgate.local.quick_model import experiment_id
    from driftgate.registry.tracking import configure_mlflow
    from driftgate.settings import get_settings
    from driftgate.tasks.gate._gate import refuse_unservable

    client = configure_mlflow(get_settings())
    X = np.zeros((4, 1))
    with mlflow.start_run(experiment_id=experiment_id("refused")) as run:
        info = mlflow.sklearn.log_model(
            DummyRegressor().fit(X, [0.0, 1.0, 2.0, 3.0]),
            name="model",
            registered_model_name=model_name,
            serialization_format="cloudpickle",
            pip_requirements=["scikit-learn"],
        )
    version = str(info.registered_model_version)
    with pytest.raises(ModelLoadError):
        refuse_unservable(client, spec, model_name, version, run.info.run_id)
    return version


def live_traffic(url: str, spec: Any, rows: int = 300) -> None:
    """Predictions of a labelled batch with ``num_0`` shifted (input drift), then their labels."""
    from driftgate.settings import get_settings
    from driftgate.stores.lake import Lake
    from driftgate.stores.predictions_db import read_predictions

    settings = get_settings()
    frame = Lake(settings.resolved_lake_url(), settings.storage_options()).read_batch(DATASET, 2).head(rows)
    records = frame[spec.feature_names].assign(num_0=(frame["num_0"] + 4).clip(-10, 10))
    records = records.astype(object).to_dict(orient="records")
    ids: list[str] = []
    for i in range(0, len(records), 50):
        answer = httpx.post(f"{url}/predict", json={"records": records[i : i + 50]}, timeout=30)
        assert answer.status_code == 200, answer.text
        ids += answer.json()["ids"]
    db = settings.resolved_predictions_db_url()
    deadline = time.monotonic() + 30
    while not {r["prediction_id"] for r in read_predictions(db)} >= set(ids):
        assert time.monotonic() < deadline, "the service never logged its predictions"
        time.sleep(0.2)
    labels = [{"id": pid, "label": float(y)} for pid, y in zip(ids, frame[spec.target], strict=True)]
    stored = httpx.post(f"{url}/feedback", json={"labels": labels}, timeout=30)
    assert stored.status_code == 200, stored.text


@pytest.fixture(scope="module")
def loop(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    from driftgate.dataset.sources import load_source
    from driftgate.dataset.spec import load_spec
    from driftgate.local.data_api import create_data_api
    from driftgate.settings import get_settings

    home = tmp_path_factory.mktemp("console") / "home"
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {
            "DRIFTGATE_HOME": str(home),
            "DRIFTGATE_DATASETS_DIR": str(ROOT / "datasets"),
            "DRIFTGATE_EXPECTATIONS_DIR": str(ROOT / "expectations"),
            "DRIFTGATE_SEARCH_ITER": "2",
            "DRIFTGATE_EXPLAIN_ROWS": "200",
            "DRIFTGATE_POLL_SECONDS": "0.5",
            "DRIFTGATE_DATASET": DATASET,
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        }.items():
            mp.setenv(key, value)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        spec = load_spec(DATASET, ROOT / "datasets")
        spec.scenario.corrupt_batches = [4]
        with ServerThread(create_data_api(load_source(spec), spec)) as api:
            mp.setenv("DRIFTGATE_DATA_API_URL", api.url)
            get_settings.cache_clear()
            from driftgate.flows.training import continuous_training
            from driftgate.serving.app import create_app

            outcomes = continuous_training()
            refused = register_refused_version(spec, spec.model_name)
            with ServerThread(create_app(get_settings())) as service:
                deadline = time.monotonic() + 60
                while httpx.get(f"{service.url}/ready").status_code != 200:
                    assert time.monotonic() < deadline, "the service never loaded the champion"
                    time.sleep(0.2)
                from driftgate.flows.monitor import monitor_predictions

                live_traffic(service.url, spec)
                monitor = monitor_predictions(min_rows=100, trigger=False, ingest=False)
                yield Loop(service.url, outcomes, home / "lake", refused, monitor)
        get_settings.cache_clear()


@dataclass
class Watch:
    """What a page did that it must not: console errors, uncaught exceptions, requests elsewhere."""

    origin: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # what a Content-Security-Policy refused

    def console(self, kind: str, text: str) -> None:
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.blocked.append(text)
        elif kind == "error":
            self.errors.append(f"console {kind}: {text}")

    def request(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.foreign.append(url)

    def clean(self) -> None:
        assert not self.blocked, f"blocked by the page's Content-Security-Policy: {self.blocked}"
        assert not self.errors, self.errors
        assert not self.foreign, f"requests to other hosts: {self.foreign}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: run `make browser` (Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, loop: Loop) -> Iterator[tuple[Any, Watch]]:
    """A fresh page that records console errors and any request to a host other than the service."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    watch = Watch(loop.url)
    p.on("console", lambda m: watch.console(m.type, m.text))
    p.on("pageerror", lambda e: watch.errors.append(f"page error: {e}"))
    p.on("request", lambda r: watch.request(r.url))
    yield p, watch
    context.close()
