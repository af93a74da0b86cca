"""Fixtures that start real things on 127.0.0.1 and point driftgate at temp state."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Two xdist workers on two cores: each worker (and what it starts) runs OpenMP and BLAS with one
# thread. With the default, one thread per core in each worker, two workers fitting scikit-learn's
# gradient boosting at once spin on each other's cores: 40 small fits take 37-42 s two at once against
# 2.0-2.2 s with one thread each (bench/threads.py; docs/development.md, "one thread a worker").
# Set before numpy, scikit-learn or LightGBM load their thread pools; a value already set is kept.
# Likewise one search job (DRIFTGATE_N_JOBS): the two workers already fill both cores, and joblib's
# worker processes only add their start and imports (test_time_honest's first test alone: 92 CPU
# seconds with two jobs, 84 with one, the same wall time). test_search.py's joblib-against-Dask test
# keeps two jobs (SearchSettings' own default), so the parallel search stays tested.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    for _pool in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "DRIFTGATE_N_JOBS"):
        os.environ.setdefault(_pool, "1")

import httpx
import pytest

from driftgate.local.servers import ServerThread, free_port
from tests.homes import copy_state

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")  # tasks called outside a flow in tests
ROOT = Path(__file__).resolve().parents[1]
__all__ = ["ROOT", "Ran", "ServerThread", "free_port", "s3_bucket"]

# Tiers (docs/development.md#test-tiers): a test is `slow` by what it starts. A test using one of these
# fixtures gets its marker: the Prefect test server, PostgreSQL, a whole stack, a loop in Chromium, a Dask cluster.
FIXTURE_MARKERS = {
    "prefect_harness": "slow",
    "postgres_url": "postgres",
    "stack": "stack",
    "loop": "browser",
    "cluster": "dask",
}
# Folders whose every test starts one kind of expensive thing.
FOLDER_MARKERS = {"browser": "browser", "stack": "stack"}
# Markers that say what a test starts; each implies `slow`.
SLOW_KINDS = frozenset({"browser", "stack", "dask", "postgres", "training"})


# The longest work first, measured (docs/development.md#measured): `--dist loadgroup` hands tests and
# groups out in collection order, so a long one collected late is the run's tail while the other
# worker idles. These files (each test, or the file's xdist group) are collected first, in this order
# (their seconds in a `make test` run alone); every other test keeps its place after them.
LONGEST_FIRST = (
    "integration/test_dask_flow.py",  # its story (the flow on a cluster, ~4 minutes) and five tests reading it
    "integration/test_time_honest.py",  # 157 + 108 s, two tests (one per worker when both are free)
    "faults/test_mlflow_outage_mid_run.py",  # 2 tests of 99-158 s (two MLflow server starts, retry delays)
    "faults/test_training_killed.py",  # 6 tests of 22-108 s (a subprocess run each, then a rerun)
    "integration/test_dask_window.py",  # its killed worker 21 s, its flow test 11 s
    "stack/test_deployments.py",  # 87 + 19 s setup
    "browser/test_console.py",  # its loop 45 s, its 18 tests
    "integration/test_own_data.py",  # 65 s
    "integration/test_backtest.py",  # 40 + 25 s
    "integration/test_readmission.py",  # 40 s
    "faults/test_s3_window_outage.py",  # 62-90 s
    "faults/test_dask_scheduler_lost.py",  # 29-65 s
    "unit/test_multivariate_drift.py",  # its false-alarm rate 36 s (100 pairs, 500 fits)
    "unit/test_commands_fresh.py",  # 30 s
    "unit/test_dle.py",  # its band's coverage over 20 seeded runs: 25 s (113 s before one thread a worker)
    "integration/test_loop.py",  # 30 s
    "service/test_shadow.py",  # 28 s and more
    "integration/test_validation.py",
    "integration/test_partition_validation.py",
    "integration/test_monitor.py",
)


def pytest_configure(config: pytest.Config) -> None:
    # xdist otherwise sorts the groups by their number of tests, which is not their time (LONGEST_FIRST is)
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


# tryfirst: xdist's own hook (on each worker) reads the ``xdist_group`` marks this one adds
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by what it starts; keep tests that share a module-scoped server on one xdist worker;
    put the longest files first."""
    tests = ROOT / "tests"
    for item in items:
        folder = item.path.relative_to(tests).parts[0] if item.path.is_relative_to(tests) else ""
        fixtures = getattr(item, "fixturenames", ())
        wanted = {FIXTURE_MARKERS[f] for f in fixtures if f in FIXTURE_MARKERS}
        if folder in FOLDER_MARKERS:
            wanted.add(FOLDER_MARKERS[folder])
        if (wanted | {m.name for m in item.iter_markers()}) & SLOW_KINDS:
            wanted.add("slow")
        for name in sorted(wanted - {m.name for m in item.iter_markers()}):
            item.add_marker(name)
        defs = getattr(item, "_fixtureinfo", None)
        shared = defs is not None and any(
            d.scope in ("module", "class") for ds in defs.name2fixturedefs.values() for d in ds
        )
        if shared and item.get_closest_marker("xdist_group") is None:
            # one module-scoped fixture (a cluster, a loop, a server) built once, on one worker
            item.add_marker(pytest.mark.xdist_group(item.path.relative_to(ROOT).as_posix()))
    rank = {f"tests/{path}": i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.relative_to(ROOT).as_posix(), len(rank)))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Give each grouped test the ``@group`` suffix of its id that ``--dist loadgroup`` schedules by.

    xdist 3.8 writes the suffix to ``item._nodeid``, which pytest 9.2 no longer reads (its ids are
    structured): no group reached the scheduler, and each module-scoped fixture was built again on
    the other worker (the Dask-trained window and the browser loop twice). pytest-dev/pytest-xdist#1386.
    Runs before xdist sends the ids to the controller; a no-op where xdist's suffix took effect.
    """
    if not getattr(session.config.option, "loadgroup", False):  # set on xdist's workers under --dist loadgroup
        return
    from _pytest.nodeid import NodeId

    for item in session.items:
        groups = sorted(
            {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")}
        )
        suffix = "@" + "_".join(groups)
        if groups and not item.nodeid.endswith(suffix):
            item._id = NodeId.parse(item.nodeid + suffix)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    # generous: on a loaded 2-core machine the temporary server can take well over 30 s to answer
    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 (a real HTTP server speaking the S3 protocol); its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_bucket(endpoint: str, name: str) -> dict[str, Any]:
    """Create bucket ``name`` on the test S3 server; the fsspec storage options that reach it."""
    import boto3

    boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
    ).create_bucket(Bucket=name)
    return {"key": "k", "secret": "s", "client_kwargs": {"endpoint_url": endpoint}}


@pytest.fixture(params=["file", "s3"])
def lake_target(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """A lake URL and its storage options: a local folder, then a bucket on the test S3 server."""
    if request.param == "file":
        return (tmp_path / "lake").as_uri(), {}
    bucket = f"lake-{tmp_path.name.lower().replace('_', '-')[-40:]}"
    return f"s3://{bucket}/lake", s3_bucket(request.getfixturevalue("s3_server"), bucket)


def point_at(monkeypatch: pytest.MonkeyPatch, home: Path) -> Path:
    """Settings pointing every store at ``home`` (MLflow on SQLite there too), with small searches."""
    from driftgate.settings import get_settings

    monkeypatch.setenv("DRIFTGATE_HOME", str(home))
    monkeypatch.setenv("DRIFTGATE_DATASETS_DIR", str(ROOT / "datasets"))
    monkeypatch.setenv("DRIFTGATE_EXPECTATIONS_DIR", str(ROOT / "expectations"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DRIFTGATE_SEARCH_ITER", "2")
    monkeypatch.setenv("DRIFTGATE_EXPLAIN_ROWS", "200")
    get_settings.cache_clear()
    return home


@pytest.fixture
def driftgate_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings pointing every store at a temp folder (MLflow on SQLite there too)."""
    from driftgate.settings import get_settings

    yield point_at(monkeypatch, tmp_path / "home")
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose ``home/mlflow.db`` is an empty MLflow store, its tables made (seconds of
    migrations) once: ``copy_state`` gives a test its own copy in no time."""
    from driftgate.registry.tracking import configure_mlflow
    from driftgate.settings import Settings

    folder = tmp_path_factory.mktemp("template-empty-store")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)  # MLflow's Default experiment keeps its artifacts in ./mlruns: here
        mp.setenv("MLFLOW_TRACKING_URI", "")  # recorded, so that the one MLflow exports is undone
        mp.delenv("MLFLOW_TRACKING_URI")
        configure_mlflow(Settings(home=folder / "home")).search_registered_models()
    return folder


@pytest.fixture
def mlflow_home(empty_store: Path, driftgate_env: Path) -> Path:
    """``driftgate_env``'s home holding its own copy of an empty MLflow store."""
    copy_state(empty_store, driftgate_env.parent)
    return driftgate_env


def wait_ready(url: str, seconds: float = 180) -> httpx.Response:
    """``/ready`` once it answers 200 (the service loads the champion in the background), or its last answer."""
    deadline = time.monotonic() + seconds
    while True:
        answer = httpx.get(f"{url}/ready", timeout=30)
        if answer.status_code == 200 or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def popen_logged(args: list[str], log: Path, **kwargs: Any) -> subprocess.Popen[bytes]:
    """A child process writing stdout and stderr to ``log``; the parent's handle closes at once."""
    with log.open("wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, **kwargs)


def stop(process: subprocess.Popen[bytes], grace: float = 20) -> None:
    """Terminate ``process``, kill it if it outlives ``grace`` seconds, and reap it either way."""
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Ran:
    """What a command printed and its exit code (the fields of ``subprocess.CompletedProcess`` tests read)."""

    returncode: int
    stdout: str
    stderr: str


CLEAN_PREFIXES = ("DRIFTGATE_", "PREFECT_", "MLFLOW_")
CLI_LOGGERS = ("", "httpx", "urllib3", "alembic", "botocore", "great_expectations", "py.warnings")


@pytest.fixture
def cli_in_process(capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """``driftgate ARGS`` through the entry point's own ``main()``, in this process: for the commands
    whose parsing and messages are tested, without a new interpreter's seconds of imports. A test that
    proves the installed entry point (or what a fresh process imports) runs the subprocess instead.

    Each call sees only the ``env`` given (no ``DRIFTGATE_``/``PREFECT_``/``MLFLOW_`` variables of this
    process), runs in ``cwd``, and leaves the environment, the working folder, the cached settings
    and the logging setup as it found them (``main()`` sets environment defaults and logging up).
    """
    from driftgate.cli import main
    from driftgate.settings import get_settings

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Ran:
        saved_env, saved_cwd, saved_argv = dict(os.environ), Path.cwd(), sys.argv
        levels = {name: logging.getLogger(name).level for name in CLI_LOGGERS}
        capsys.readouterr()  # what came before is not this command's
        for key in [k for k in os.environ if k.startswith(CLEAN_PREFIXES)]:
            del os.environ[key]
        os.environ.update(env or {})
        get_settings.cache_clear()
        code: int | str | None = 0
        try:
            if cwd is not None:
                os.chdir(cwd)
            sys.argv = ["driftgate", *args]
            try:
                main()
            except SystemExit as exc:
                code = exc.code
        finally:
            sys.argv = saved_argv
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)
            get_settings.cache_clear()
            logging.captureWarnings(False)
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
        out = capsys.readouterr()
        return Ran(code if isinstance(code, int) else 0 if code is None else 1, out.out, out.err)

    return run
