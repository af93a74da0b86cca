"""A short real loop, the service over it, and Debian's Chromium driven by Playwright.

The loop is the one of tests/integration/test_loop.py: the data API on 127.0.0.1 serves five
synthetic batches (the fourth corrupt, so quarantined), ``continuous-training`` runs on the Prefect
test harness with MLflow on SQLite in a temp folder, then the model service starts over that state.
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
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
DATASET = "synthetic-regression"


@dataclass
class Loop:
    url: str
    outcomes: list[Any]
    lake_root: Path


@pytest.fixture(scope="module")
def loop(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    from driftgate.local.data_api import create_data_api
    from driftgate.settings import get_settings
    from driftgate.sources import load_source
    from driftgate.spec import load_spec

    home = tmp_path_factory.mktemp("console") / "home"
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"DRIFTGATE_HOME": str(home), "DRIFTGATE_DATASETS_DIR": str(ROOT / "datasets"),
                           "DRIFTGATE_EXPECTATIONS_DIR": str(ROOT / "expectations"), "DRIFTGATE_SEARCH_ITER": "2",
                           "DRIFTGATE_EXPLAIN_ROWS": "200", "DRIFTGATE_POLL_SECONDS": "0.5",
                           "DRIFTGATE_DATASET": DATASET,
                           "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}.items():  # fmt: skip
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
            with ServerThread(create_app(get_settings())) as service:
                deadline = time.monotonic() + 60
                while httpx.get(f"{service.url}/ready").status_code != 200:
                    assert time.monotonic() < deadline, "the service never loaded the champion"
                    time.sleep(0.2)
                yield Loop(service.url, outcomes, home / "lake")
        get_settings.cache_clear()


@dataclass
class Watch:
    """What a page did that it must not: console errors, uncaught exceptions, requests elsewhere."""

    origin: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def request(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.foreign.append(url)

    def clean(self) -> None:
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
    p.on("console", lambda m: watch.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    p.on("pageerror", lambda e: watch.errors.append(f"page error: {e}"))
    p.on("request", lambda r: watch.request(r.url))
    yield p, watch
    context.close()
