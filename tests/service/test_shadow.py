"""The shadow process: scores the champion rows of the prediction log with the challenger, on a real
registry and SQLite log; skips ahead (counting what it drops) when far behind; ends with the service."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from driftgate.local.servers import free_port
from driftgate.registry.client import CHALLENGER, set_champion
from driftgate.serving.shadow import ShadowProcess, ShadowStatus, ShadowWorker
from driftgate.serving.telemetry import telemetry
from driftgate.stores.predictions_db import CHAMPION_ROLE, connect, insert_prediction_rows, read_predictions
from tests.models import register_version
from tests.service.conftest import Registry, record
from tests.service.test_service import wait_for


def _log_champion_rows(url: str, start: int, n: int, version: str = "9", output: str = "0.5") -> None:
    rec = '{"num_0": 0.1, "num_1": -0.3, "num_2": 1.2, "num_3": null, "cat_0": "a", "cat_1": "b"}'
    rows = [("t", "m", version, 1.0, rec, output, f"p{i}", CHAMPION_ROLE) for i in range(start, start + n)]
    insert_prediction_rows(connect(url), rows)


def _worker(registry: Registry, **kwargs: int) -> tuple[ShadowWorker, ShadowStatus]:
    status = ShadowStatus.create(multiprocessing.get_context("spawn"))
    return ShadowWorker(registry.settings, status, **kwargs), status


def test_the_worker_scores_new_champion_rows_once_with_the_same_ids(registry: Registry) -> None:
    url = registry.settings.resolved_predictions_db_url()
    _log_champion_rows(url, 0, 5)  # logged before the shadow started: not its business
    worker, status = _worker(registry, batch_rows=4)
    assert not worker.refresh()  # no challenger alias yet: the process would end
    challenger, _ = register_version(registry.spec, registry.name, seed=2)
    registry.client.set_registered_model_alias(registry.name, CHALLENGER, challenger)
    assert worker.refresh()
    assert status.version.value.decode() == challenger
    _log_champion_rows(url, 5, 6)
    _log_champion_rows(url, 11, 2, version=challenger)  # the challenger answering itself: nothing to shadow
    assert [worker.step(), worker.step(), worker.step()] == [4, 4, 0]  # rows read; its own version's passed over
    shadow = [r for r in read_predictions(url) if r["role"] == "shadow"]
    assert [r["prediction_id"] for r in shadow] == [f"p{i}" for i in range(5, 11)]
    assert {r["model_version"] for r in shadow} == {challenger}
    assert all(0.0 <= r["output"]["1"] <= 1.0 for r in shadow)  # probabilities of the challenger
    assert status.scored.value == 6
    assert status.dropped.value == 0


def test_no_shadow_process_runs_while_the_challenger_is_the_champion(registry: Registry) -> None:
    version, _ = register_version(registry.spec, registry.name, seed=1)
    set_champion(registry.client, registry.name, version)
    registry.client.set_registered_model_alias(registry.name, CHALLENGER, version)  # the gate promoted it
    champion: dict[str, str | None] = {"version": version}
    shadow = ShadowProcess(
        registry.settings, registry.client, registry.name, telemetry(), champion=lambda: champion["version"]
    )
    try:
        shadow.check()
        assert shadow.process is None  # nothing to compare: no process
        champion["version"] = "0"  # the service still answers with another version
        shadow.check()
        assert shadow.process is not None
        assert shadow.process.is_alive()
        process = shadow.process
        champion["version"] = version  # the service took the challenger: the process ends
        shadow.check()
        assert not process.is_alive()
        assert shadow.process is None  # ended on purpose: no crash back-off
        champion["version"] = "0"
        shadow.check()  # a challenger again: started again at once
        assert shadow.process is not None
        assert shadow.process.is_alive()
        champion["version"] = None  # the service has not loaded a champion: nothing started
        shadow.stop()
        shadow._stopping = False
        shadow.check()
        assert not shadow.process.is_alive()
    finally:
        shadow.stop()
    champion["version"] = "0"
    shadow.check()  # after stop(): never started again
    assert not shadow.process.is_alive()


def test_the_worker_counts_the_rows_where_the_challenger_disagrees_with_the_champion(registry: Registry) -> None:
    url = registry.settings.resolved_predictions_db_url()
    challenger, _ = register_version(registry.spec, registry.name, seed=2)
    registry.client.set_registered_model_alias(registry.name, CHALLENGER, challenger)
    worker, status = _worker(registry, batch_rows=10)
    assert worker.refresh()
    _log_champion_rows(url, 0, 3, output='{"0": 0.9, "1": 0.1}')  # the champion said class 0
    _log_champion_rows(url, 3, 2, output='{"0": 0.2, "1": 0.8}')  # and class 1
    _log_champion_rows(url, 5, 1, output="0.5")  # an answer of another shape: not compared
    assert worker.step() == 6
    said = {r["prediction_id"]: r["output"] for r in read_predictions(url) if r["role"] == "shadow"}
    mine = ["0" if said[f"p{i}"]["0"] >= said[f"p{i}"]["1"] else "1" for i in range(5)]
    assert status.compared.value == 5
    assert status.disagreed.value == sum(m != c for m, c in zip(mine, ["0", "0", "0", "1", "1"], strict=True))
    shadow = ShadowProcess(registry.settings, registry.client, registry.name, telemetry(), champion=lambda: "9")
    shadow.status = status
    labels = {"version": challenger}
    before = REGISTRY.get_sample_value("driftgate_shadow_compared_total", labels) or 0.0
    shadow._last_version = challenger
    shadow.publish()  # the service adds the process's new counts to its Prometheus counters
    assert REGISTRY.get_sample_value("driftgate_shadow_compared_total", labels) - before == 5


def test_a_worker_far_behind_the_log_skips_ahead_and_counts_what_it_dropped(registry: Registry) -> None:
    url = registry.settings.resolved_predictions_db_url()
    challenger, _ = register_version(registry.spec, registry.name, seed=2)
    registry.client.set_registered_model_alias(registry.name, CHALLENGER, challenger)
    worker, status = _worker(registry, batch_rows=100, capacity_rows=40)
    assert worker.refresh()
    _log_champion_rows(url, 0, 100)
    worker.skip_if_behind()
    assert status.dropped.value == 80  # kept the newest capacity/2 rows
    assert worker.step() == 20
    assert status.scored.value == 20


@pytest.mark.slow  # the service and its shadow process, each a process of its own
def test_the_shadow_process_ends_when_the_service_is_killed(champion_v1: Registry, tmp_path: Path) -> None:
    registry = champion_v1
    challenger, _ = register_version(registry.spec, registry.name, seed=2)
    registry.client.set_registered_model_alias(registry.name, CHALLENGER, challenger)
    port = free_port()
    service = subprocess.Popen(
        [sys.executable, "-m", "driftgate.cli", "serve", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def shadowing() -> bool:
            try:
                return httpx.get(f"{base}/model").json()["shadow"]["version"] == challenger
            except (httpx.HTTPError, KeyError, TypeError, ValueError):
                return False

        assert wait_for(shadowing, timeout=120)
        assert httpx.post(f"{base}/predict", json={"records": [record()]}).status_code == 200
        # started from a worker thread: each thread (task) of the service lists its own children
        tasks = Path(f"/proc/{service.pid}/task").iterdir()
        children = [c for t in tasks for c in (t / "children").read_text().split()]
        assert children, "the service has no shadow process"
        service.send_signal(signal.SIGKILL)  # no shutdown hook runs
        service.wait(10)

        def gone(pid: str) -> bool:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
            except FileNotFoundError:
                return True
            return state == "Z"  # exited, not yet reaped by init

        assert wait_for(lambda: all(gone(p) for p in children), timeout=30)
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
