"""Fixtures that start real things on 127.0.0.1 and point driftgate at temp state."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftgate.servers import ServerThread, free_port

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")  # tasks called outside a flow in tests
ROOT = Path(__file__).resolve().parents[1]
__all__ = ["ROOT", "ServerThread", "free_port"]


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    # generous: on a loaded 2-core machine the temporary server can take well over 30 s to answer
    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture
def driftgate_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings pointing every store at a temp folder (MLflow on SQLite there too)."""
    from driftgate.settings import get_settings

    home = tmp_path / "home"
    monkeypatch.setenv("DRIFTGATE_HOME", str(home))
    monkeypatch.setenv("DRIFTGATE_DATASETS_DIR", str(ROOT / "datasets"))
    monkeypatch.setenv("DRIFTGATE_EXPECTATIONS_DIR", str(ROOT / "expectations"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DRIFTGATE_SEARCH_ITER", "2")
    monkeypatch.setenv("DRIFTGATE_EXPLAIN_ROWS", "200")
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()
