"""Fault: the MLflow server stops in the middle of a training run (during logging, during the alias move).

The flow runs against a real ``mlflow server`` process (one worker, the test's SQLite store, its
artifacts proxied to a folder of the test). At a named point of the run (``driftgate.tasks.
_fault_point``: the training run's metrics logged, or a version gated and ``champion`` about to
move) the test kills the server with SIGKILL and leaves it down. MLflow's client is held to one
attempt (``MLFLOW_HTTP_REQUEST_MAX_RETRIES=0``) so that the task's own retries carry the outage:
the task retries, then the run fails in one line naming the registry. With the server back on the
same port and store (its serving process run again with the command line and environment ``mlflow
server`` gave it), a rerun resumes: every batch recorded once, one champion with its gate record,
made champion once. See docs/reliability.md.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest

from driftgate.context import build_context
from driftgate.dataset.sources import load_source
from driftgate.errors import ModelRegistryError
from driftgate.local.data_api import create_data_api
from driftgate.local.servers import ServerThread, free_port
from driftgate.local.stack import wait_http
from driftgate.registry.client import champion_version
from driftgate.registry.tracking import configure_mlflow
from driftgate.registry.view import HISTORY_TAG
from driftgate.settings import get_settings
from driftgate.tasks import _fault_point
from driftgate.tasks.loop import read_outcomes
from tests.faults.test_training_killed import BATCHES, DATASET, MODEL, small_spec

pytestmark = pytest.mark.slow  # an MLflow server process started twice, the flow run twice

BIN = Path(sys.executable).parent
# DRIFTGATE_REGISTRY_RETRY_DELAYS: three retries, as by default (2-5-10 s), but short (the server stays down)
DELAYS = (0.1, 0.2, 0.3)


def mlflow_server(store: str, port: int, folder: Path) -> subprocess.Popen[bytes]:
    """``mlflow server`` on 127.0.0.1:``port`` over ``store``, its artifacts under ``folder``; once healthy."""
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    args = [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    args += ["--backend-store-uri", store, "--artifacts-destination", str(folder / "mlartifacts")]
    return started(args, env, folder, port)


def started(args: list[str], env: dict[str, str], folder: Path, port: int) -> subprocess.Popen[bytes]:
    with (folder / "mlflow.log").open("ab") as out:
        proc = subprocess.Popen(args, env=env, cwd=folder, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    wait_http(f"http://127.0.0.1:{port}/health", proc, timeout=180)
    return proc


def server_process(proc: subprocess.Popen[bytes]) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of the process that serves: ``mlflow server`` only builds them
    (its store, artifacts and options as variables) and starts uvicorn with its one worker."""
    (serving,) = psutil.Process(proc.pid).children()
    return serving.cmdline(), serving.environ()


def restarted(served: tuple[list[str], dict[str, str]], folder: Path, port: int) -> subprocess.Popen[bytes]:
    """The server back: its serving process run again as ``mlflow server`` ran it (a new boot id), without
    the seconds the command takes to import MLflow's CLI only to start it; once healthy."""
    args, env = served
    return started(args, {**env, "_MLFLOW_SERVER_BOOT_ID": uuid.uuid4().hex}, folder, port)


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)  # the server and its worker, no shutdown
        proc.wait(30)


@pytest.mark.parametrize("point", ["in_mlflow_logging", "before_alias"])
def test_an_mlflow_server_stopped_mid_run_fails_it_in_one_clear_error_and_a_rerun_resumes(
    point: str,
    prefect_harness: None,
    mlflow_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from driftgate.flows.training import continuous_training

    folder = mlflow_home.parent
    store = f"sqlite:///{mlflow_home / 'mlflow.db'}"
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    servers = [mlflow_server(store, port, folder)]
    served = server_process(servers[0])
    spec = small_spec()
    for key, value in {
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",  # the outage reaches the tasks: their retries must carry it
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
        "DRIFTGATE_DATASET": DATASET,
        "DRIFTGATE_RETRAIN_POLICY": "never",  # one retrain: batch 1's first model
        "DRIFTGATE_REGISTRY_RETRY_DELAYS": ",".join(map(str, DELAYS)),  # the default 2,5,10 s would be waited out
    }.items():
        monkeypatch.setenv(key, value)
    stopped: list[str] = []

    def stop_server() -> None:
        if not stopped:
            kill(servers[-1])
            stopped.append(point)

    monkeypatch.setitem(_fault_point.ACTIONS, point, stop_server)
    task_log = logging.getLogger("prefect.task_runs")
    try:
        with ServerThread(create_data_api(load_source(spec), spec)) as api:
            monkeypatch.setenv("DRIFTGATE_DATA_API_URL", api.url)
            get_settings.cache_clear()
            task_log.addHandler(caplog.handler)  # Prefect's loggers do not propagate to pytest's
            try:
                with pytest.raises(ModelRegistryError, match="did not answer") as failed:
                    continuous_training()
            finally:
                task_log.removeHandler(caplog.handler)
            assert stopped == [point]
            retries = [r.getMessage() for r in caplog.records if "will start" in r.getMessage()]
            assert retries, "the outage was not retried by the task"
            # the task ran again once per configured delay, after it: the setting reached the task
            waits = [m.rsplit(" - Retry ", 1)[-1] for m in retries]
            assert waits == [f"{n}/{len(DELAYS)} will start {d} second(s) from now" for n, d in enumerate(DELAYS, 1)]
            ctx = build_context(get_settings())
            recorded_before = [o.batch for o in read_outcomes(ctx.lake, DATASET)]

            servers.append(restarted(served, folder, port))  # back: same store, same port
            monkeypatch.delitem(_fault_point.ACTIONS, point)
            rerun = continuous_training()
        outcomes = read_outcomes(ctx.lake, DATASET)
        assert [o.batch for o in outcomes] == list(range(1, BATCHES + 1))  # every batch once
        assert sorted([*recorded_before, *(o.batch for o in rerun)]) == list(range(1, BATCHES + 1))
        client = configure_mlflow(get_settings())
        history = json.loads(client.get_registered_model(MODEL).tags[HISTORY_TAG])
        assert len(history) == len(set(history)), history
        champ = champion_version(client, MODEL)
        assert champ is not None
        assert history == [str(champ.version)]
        run = client.get_run(champ.run_id)
        assert run.data.tags.get("driftgate.gate.promoted") == "True"
    finally:
        for s in servers:
            kill(s)
    message = str(failed.value).splitlines()
    assert len(message) == 1, message  # one line
    print(
        f"\nMLflow server killed at {point}; {len(retries)} task retries; the run failed: {message[0]}; "
        f"the rerun recorded {[o.batch for o in rerun]}; champion v{champ.version}; 0 lost, 0 promoted twice"
    )
