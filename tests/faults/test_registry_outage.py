"""Fault: the registry goes away while the service polls the ``champion`` alias.

A real ``mlflow server`` (one worker, on the test's SQLite store) serves the registry to a real
model service on 127.0.0.1. The server is killed while clients keep predicting: every request is
still answered by the loaded champion, ``/ready`` says within a few polls that the registry does not
answer, and once the server is back (same store, same port) the service clears the error by itself
and follows the alias again (a new champion set through the restarted server is served). See
docs/reliability.md.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from mlflow.tracking import MlflowClient

from driftgate.local.servers import ServerThread, free_port
from driftgate.local.stack import wait_http
from driftgate.registry.client import set_champion
from driftgate.serving.app import create_app
from driftgate.settings import get_settings
from tests.models import register_version
from tests.service.conftest import Registry, record
from tests.service.test_service import served_version, wait_for

pytestmark = pytest.mark.slow  # an MLflow server process, started twice

BIN = Path(sys.executable).parent


def _mlflow_server(store: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    args = [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*args, "--backend-store-uri", store], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    wait_http(f"http://127.0.0.1:{port}/health", proc, timeout=180)
    return proc


def _kill(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # the server and its uvicorn worker, no shutdown
    proc.wait(30)


def test_the_service_keeps_serving_through_a_registry_outage_reports_it_and_recovers_by_itself(
    champion_v1: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    reg = champion_v1
    v2, _ = register_version(reg.spec, reg.name, seed=2)  # on the SQLite store; made champion after the outage
    store = reg.settings.resolved_tracking_uri()
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    server = _mlflow_server(store, port, tmp_path / "mlflow.log")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    get_settings.cache_clear()
    settings = get_settings()
    answers: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def predict_until_stopped(url: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as c:
            while not stop.is_set():
                r = c.post("/predict", json={"records": [record()]})
                answers.append((r.status_code, r.json().get("model", {}).get("version")))

    try:
        with ServerThread(create_app(settings)) as srv:
            assert wait_for(lambda: served_version(srv.url) == "1", timeout=60)
            clients = [threading.Thread(target=predict_until_stopped, args=(srv.url,)) for _ in range(2)]
            for c in clients:
                c.start()
            try:
                _kill(server)
                outage_from = len(answers)
                # /ready says what is wrong within a few polls, not after MLflow's minutes of retries
                assert wait_for(lambda: httpx.get(f"{srv.url}/ready").json()["last_reload_error"], timeout=20)
                ready = httpx.get(f"{srv.url}/ready")
                assert ready.status_code == 200
                assert ready.json()["version"] == "1"
                assert "registry did not answer" in ready.json()["last_reload_error"]
                assert wait_for(lambda: len(answers) > outage_from + 50)
                outage_to = len(answers)
                server = _mlflow_server(store, port, tmp_path / "mlflow.log")  # back, same store, same port
                assert wait_for(lambda: httpx.get(f"{srv.url}/ready").json()["last_reload_error"] is None, timeout=30)
                set_champion(MlflowClient(tracking_uri=uri, registry_uri=uri), reg.name, v2)
                assert wait_for(lambda: served_version(srv.url) == v2, timeout=60)
            finally:
                stop.set()
                for c in clients:
                    c.join()
    finally:
        if server.poll() is None:
            _kill(server)
    statuses = {s for s, _ in answers}
    assert statuses == {200}, [a for a in answers if a[0] != 200][:5]  # not one request failed
    during = [v for _, v in answers[outage_from:outage_to]]
    assert set(during) == {"1"}
    assert answers[-1][1] == v2
    print(f"\n{len(answers)} requests, {outage_to - outage_from} during the outage, 0 failed")
