"""The five gaps of issue #28, each on a real service on 127.0.0.1 over a temp MLflow registry.

A reused caller id, a non-JSON body, a symlink in the lake, a registry tag that is not JSON, and
clients that send slowly: each test failed on the service before these were closed.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from driftgate.local.servers import ServerThread
from driftgate.registry.client import BATCHES_TAG, HISTORY_TAG
from driftgate.serving.app import create_app
from driftgate.serving.server import server_options
from driftgate.settings import Settings
from driftgate.stores.predictions_db import read_labelled, read_predictions
from tests.conftest import Ran
from tests.service.conftest import API_KEY, Registry, record
from tests.service.test_service import served_version, wait_for

KEY = {"X-API-Key": API_KEY}


def _serve(settings: Settings) -> ServerThread:
    """The service as ``driftgate serve`` runs it: the app in uvicorn with the service's server options."""
    return ServerThread(create_app(settings), **server_options(settings))


# --- 1. ids that cannot collide -----------------------------------------------------------------


def test_a_reused_request_id_is_refused_and_a_label_lands_on_its_own_prediction(champion_v1: Registry) -> None:
    db = champion_v1.settings.resolved_predictions_db_url()
    small, large = record(num_0=0.7), record(num_0=2.0, cat_0="c")
    with _serve(champion_v1.settings) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        first = httpx.post(f"{srv.url}/predict", json={"records": [small]}, headers={"X-Request-Id": "collide"})
        assert first.status_code == 200, first.text
        assert first.json()["ids"] == ["collide-0"]
        again = httpx.post(f"{srv.url}/predict", json={"records": [large]}, headers={"X-Request-Id": "collide"})
        assert again.status_code == 409, again.text
        assert "collide-0" in again.json()["detail"]
        assert "predictions" not in again.json()
        assert wait_for(lambda: len(read_predictions(db)) >= 1)
        label = httpx.post(f"{srv.url}/feedback", json={"labels": [{"id": "collide-0", "label": "1"}]}, headers=KEY)
        assert label.json()["stored"] == 1, label.text
    [row] = read_labelled(db, champion_v1.name)
    assert row["inputs"]["num_0"] == 0.7  # the label sits on the prediction that was answered with that id
    assert [r["prediction_id"] for r in read_predictions(db)] == ["collide-0"]  # the refused one was never logged
    with _serve(champion_v1.settings) as srv:  # a new process finds the id in the log
        assert wait_for(lambda: served_version(srv.url) == "1")
        after = httpx.post(f"{srv.url}/predict", json={"records": [large]}, headers={"X-Request-Id": "collide"})
        assert after.status_code == 409, after.text
        empty = httpx.post(f"{srv.url}/predict", json={"records": [small]}, headers={"X-Request-Id": ""})
        assert empty.status_code == 200, empty.text
        assert len(empty.json()["ids"][0]) == 32  # generated, random


# --- 2. only JSON is accepted ---------------------------------------------------------------------

NON_JSON = {
    "text/plain": ("text/plain", json.dumps({"records": [record()]}).encode(), None),
    "form": ("application/x-www-form-urlencoded", b"records=1", None),
    "multipart": ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1', None),
    "xml": ("application/xml", b"<records/>", None),
    "no content type": (None, json.dumps({"records": [record()]}).encode(), None),
    "gzip": ("application/json", gzip.compress(json.dumps({"records": [record()]}).encode()), "gzip"),
}


@pytest.mark.parametrize("route", ["/predict", "/feedback"])
def test_bodies_that_are_not_json_are_refused_with_415(champion_v1: Registry, route: str) -> None:
    with _serve(champion_v1.settings) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        for case, (media, body, encoding) in NON_JSON.items():
            headers = {**KEY, **({"content-type": media} if media else {})}
            if encoding:
                headers["content-encoding"] = encoding
            r = httpx.post(f"{srv.url}{route}", content=body, headers=headers)
            assert r.status_code == 415, (case, r.status_code, r.text[:200])
            assert r.json()["status_code"] == 415


# --- 3. the lake reader serves regular files inside the lake only ----------------------------------


def test_the_lake_reader_serves_no_symlink_and_nothing_outside_the_lake(champion_v1: Registry, tmp_path: Path) -> None:
    secret = tmp_path / "secret.html"
    secret.write_text("<p>root:x:0:0</p>")
    lake = Path(champion_v1.settings.resolved_lake_url().removeprefix("file://"))
    reports = lake / "reports" / "drift" / champion_v1.spec.name
    reports.mkdir(parents=True)
    (reports / "1.html").write_text("<p>drift of batch 1</p>")
    (reports / "evil.html").symlink_to(secret)
    (reports / "inner.html").symlink_to(reports / "1.html")  # a symlink, even to a file of the lake
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "2.html").write_text("<p>root:x:0:0</p>")
    (lake / "reports" / "linked").symlink_to(outside, target_is_directory=True)
    base = f"/console/lake/reports/drift/{champion_v1.spec.name}"
    with _serve(champion_v1.settings) as srv:
        assert httpx.get(f"{srv.url}{base}/1.html").status_code == 200
        for path in (f"{base}/evil.html", f"{base}/inner.html", "/console/lake/reports/linked/2.html"):
            r = httpx.get(f"{srv.url}{path}")
            assert r.status_code == 404, (path, r.status_code)
            assert "root:" not in r.text


# --- 4. registry data is input too ----------------------------------------------------------------


def test_a_registry_tag_that_is_not_json_is_shown_unreadable_never_a_500(explained: Registry) -> None:
    run_id = explained.client.get_model_version(explained.name, "1").run_id
    explained.client.set_tag(run_id, BATCHES_TAG, "not json")
    with _serve(explained.settings) as srv:
        page = httpx.get(f"{srv.url}/reports/1")
        assert page.status_code == 200, page.text[:300]
        assert "unreadable" in page.text
        compare = httpx.get(f"{srv.url}/reports/compare", params={"a": 1, "b": 2})
        assert compare.status_code == 200, compare.text[:300]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_500_is_logged_with_its_traceback(champion_v1: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    from driftgate.serving.versions import VersionViews

    def fail(self: VersionViews, version: str) -> None:
        raise RuntimeError("a fault no real input causes any more")

    monkeypatch.setattr(VersionViews, "version", fail)  # a mock: the faults that did this are fixed
    seen = _Records()
    logger = logging.getLogger("driftgate.serving")  # the service's loggers may not propagate to the root
    logger.addHandler(seen)
    try:
        with _serve(champion_v1.settings) as srv:
            r = httpx.get(f"{srv.url}/reports/1")
    finally:
        logger.removeHandler(seen)
    assert r.status_code == 500
    assert set(r.json()) == {"status_code", "detail", "errors"}
    assert "a fault" not in r.text  # the client learns nothing of the internals
    logged = [rec for rec in seen.records if rec.exc_info and "a fault no real input" in str(rec.exc_info[1])]
    assert logged, [rec.getMessage() for rec in seen.records]
    assert logged[0].exc_info is not None
    assert logged[0].exc_info[2] is not None  # the traceback itself


def test_rollback_with_an_unreadable_history_tag_is_one_line_and_a_nonzero_exit(
    champion_v1: Registry, cli_in_process: Callable[..., Ran]
) -> None:
    champion_v1.client.set_registered_model_tag(champion_v1.name, HISTORY_TAG, "not json")
    ours = {k: v for k, v in os.environ.items() if k.startswith("DRIFTGATE_")}
    done = cli_in_process("rollback", env=ours)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert any(HISTORY_TAG in line and "driftgate: error" in line for line in lines), done.stderr[-2000:]


# --- 5. slow clients are cut ----------------------------------------------------------------------


def _trickle(socks: dict[str, socket.socket], drip: dict[str, bytes], until: float) -> dict[str, bytes]:
    """Send one byte-ish drip per socket every 0.3 s until each is closed by the server (or ``until``)."""
    answers: dict[str, bytes] = {}
    while socks and time.monotonic() < until:
        for name, s in list(socks.items()):
            readable, _, _ = select.select([s], [], [], 0)
            if readable:
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                answers[name] = answers.get(name, b"") + data
                if not data:
                    socks.pop(name).close()
                    continue
            if drip[name]:
                try:
                    s.sendall(drip[name])
                except OSError:
                    answers.setdefault(name, b"")
                    socks.pop(name).close()
        time.sleep(0.3)
    for name, s in socks.items():
        s.close()
        answers[name] = b"STILL OPEN"
    return answers


@pytest.fixture
def slow_settings(champion_v1: Registry, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DRIFTGATE_READ_TIMEOUT_S", "2")
    return Settings()


def test_slow_senders_are_cut_while_other_clients_are_served(slow_settings: Settings) -> None:
    with _serve(slow_settings) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        socks: dict[str, socket.socket] = {}
        drip: dict[str, bytes] = {}
        for i in range(8):
            s = socket.create_connection((srv.host, srv.port))
            s.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            socks[f"headers-{i}"], drip[f"headers-{i}"] = s, b"X-Slow: 1\r\n"
            s = socket.create_connection((srv.host, srv.port))
            s.sendall(
                b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100000\r\n\r\n{"
            )
            socks[f"body-{i}"], drip[f"body-{i}"] = s, b" "
            socks[f"silent-{i}"], drip[f"silent-{i}"] = socket.create_connection((srv.host, srv.port)), b""
        result: dict[str, dict[str, bytes]] = {}
        sender = threading.Thread(target=lambda: result.update(out=_trickle(socks, drip, time.monotonic() + 40)))
        sender.start()
        served = [httpx.post(f"{srv.url}/predict", json={"records": [record()]}, timeout=30) for _ in range(5)]
        sender.join()
        assert [r.status_code for r in served] == [200] * 5
        answers = result["out"]
        assert len(answers) == 24
        still_open = [name for name, data in answers.items() if data == b"STILL OPEN"]
        assert not still_open, still_open
        for name, data in answers.items():  # closed, after a 408 where the request had begun
            assert data == b"" or data.startswith(b"HTTP/1.1 408"), (name, data[:200])
        assert httpx.get(f"{srv.url}/health").status_code == 200
