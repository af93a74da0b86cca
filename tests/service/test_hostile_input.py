"""The service under hostile input, on 127.0.0.1: size limits, edge JSON, busy explanations, secrets.

Everything runs against the real app in a real uvicorn server over a temp MLflow registry; the
prediction-log tests use a real SQLite database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from driftgate.local.servers import ServerThread
from driftgate.serving.app import create_app
from driftgate.serving.prediction_log import PredictionLog
from driftgate.serving.telemetry import telemetry
from driftgate.settings import Settings
from driftgate.stores.predictions_db import read_predictions
from tests.service.conftest import API_KEY, Registry, record
from tests.service.test_service import served_version, wait_for


@pytest.fixture
def service(champion_v1: Registry) -> Iterator[tuple[str, Registry, object]]:
    app = create_app(champion_v1.settings)
    with ServerThread(app) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        yield srv.url, champion_v1, app


def _post(url: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}/predict", content=body, headers={"content-type": "application/json"}, timeout=30)


def _record_json(**raw: str) -> bytes:
    """A valid record's JSON with some members replaced by raw JSON text."""
    members = [f'"{k}": {json.dumps(v)}' for k, v in record().items() if k not in raw]
    members += [f'"{k}": {v}' for k, v in raw.items()]
    return ("{" + ", ".join(members) + "}").encode()


EDGE_BODIES = {
    "400-digit integer": (b'{"records": [' + _record_json(num_0="9" * 400) + b"]}", "num_0", "finite"),
    "5,000-deep arrays": (b'{"records": [' + b"[" * 5000 + b"]" * 5000 + b"]}", "", ""),
    "5,000-deep objects": (b'{"records": [' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"]}", "", ""),
    "lone surrogate in a key": (b'{"records": [{"\\ud800": 1}]}', "", "surrogate"),
    "lone surrogate in a value": (b'{"records": [' + _record_json(cat_0='"\\udc00"') + b"]}", "cat_0", "surrogate"),
    "duplicate key": (b'{"records": [' + _record_json(num_1='1, "num_1": 2') + b"]}", "num_1", "more than once"),
    "duplicate records member": (b'{"records": [], "records": []}', "records", "more than once"),
    "non-object record": (b'{"records": [1, "a", null, []]}', "records", "must be an object"),
    "Infinity": (b'{"records": [' + _record_json(num_2="Infinity") + b"]}", "num_2", "finite"),
    "-Infinity": (b'{"records": [' + _record_json(num_2="-Infinity") + b"]}", "num_2", "finite"),
    "NaN": (b'{"records": [' + _record_json(num_3="NaN") + b"]}", "num_3", "finite"),
    "too many (empty) records": (b'{"records": [' + b",".join([b"{}"] * 300_000) + b"]}", "records", "maximum is 50"),
    "not UTF-8": (b'{"records": ["\xff"]}', "body", "not valid JSON"),
}


def test_edge_json_gets_a_4xx_naming_the_field_never_a_5xx(service: tuple[str, Registry, object]) -> None:
    url = service[0]
    for case, (body, field, reason) in EDGE_BODIES.items():
        r = _post(url, body)
        assert 400 <= r.status_code < 500, (case, r.status_code, r.text[:300])
        errors = r.json()["errors"]
        assert errors, case
        assert errors[0]["field"].startswith(field), (case, errors)
        assert reason in errors[0]["reason"], (case, errors)
    assert _post(url, json.dumps({"records": [record()]}).encode()).status_code == 200  # still serving


def test_a_20_mb_body_is_refused_with_413_before_it_is_parsed(service: tuple[str, Registry, object]) -> None:
    url = service[0]
    big = b'{"records": [' + b",".join([json.dumps(record()).encode()] * 240_000) + b"]}"
    assert len(big) > 20_000_000
    r = _post(url, big)  # announced by Content-Length
    assert r.status_code == 413, r.text[:300]
    assert r.json()["status_code"] == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for i in range(0, len(big), 1 << 20):
            yield big[i : i + (1 << 20)]

    r = httpx.post(f"{url}/predict", content=chunks(), headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 413
    assert _post(url, json.dumps({"records": [record()]}).encode()).status_code == 200


def test_explanations_past_the_concurrency_limit_get_429_with_retry_after(
    service: tuple[str, Registry, object],
) -> None:
    url, reg, app = service
    svc = app.state.service  # type: ignore[attr-defined]
    body = {"records": [record()]}
    assert httpx.post(f"{url}/explain", json=body, timeout=60).status_code == 200
    taken = 0
    while svc.explainers.slots.acquire(blocking=False):  # the test holds every slot, as slow explanations would
        taken += 1
    assert taken == reg.settings.explain_concurrency
    try:
        r = httpx.post(f"{url}/explain", json=body, timeout=60)
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        assert httpx.post(f"{url}/predict", json=body).status_code == 200  # predictions are not affected
        assert httpx.get(f"{url}/ready").status_code == 200
    finally:
        for _ in range(taken):
            svc.explainers.slots.release()
    assert httpx.post(f"{url}/explain", json=body, timeout=60).status_code == 200


def test_model_publishes_a_synthetic_example_and_report_pages_forbid_scripts(
    service: tuple[str, Registry, object],
) -> None:
    url = service[0]
    model = httpx.get(f"{url}/model").json()
    assert model["input_example"] == model["example_request"]["records"]  # the spec's example, no training rows
    page = httpx.get(f"{url}/reports")
    policy = page.headers["content-security-policy"]
    assert "http" not in policy
    assert "*" not in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[-1].split(";", 1)[0]
    assert "frame-ancestors 'none'" in policy


def test_secrets_are_secretstr_never_shown_and_the_admin_key_still_works(
    service: tuple[str, Registry, object],
) -> None:
    url = service[0]
    settings = Settings(admin_api_key="admin-secret-x", s3_secret="s3-secret-y")
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert "admin-secret-x" not in shown
    assert "s3-secret-y" not in shown
    assert httpx.post(f"{url}/admin/reload", headers={"X-API-Key": "w" * len(API_KEY)}).status_code == 401
    assert httpx.post(f"{url}/admin/reload", headers={"X-API-Key": API_KEY}).status_code == 200


def _lost() -> float:
    return REGISTRY.get_sample_value("driftgate_prediction_log_lost_total") or 0.0


def test_the_prediction_log_survives_a_bad_row_and_counts_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    log = PredictionLog(url, telemetry())
    before = _lost()
    # the second record holds a lone surrogate: it cannot be encoded
    log.append("m", "1", latency_ms=1.0, records=[{"x": 1.0}, {"x": "\ud800"}, {"x": 3.0}], outputs=["a", "b", "c"])
    log.start()
    log.stop()
    assert [r["inputs"]["x"] for r in read_predictions(url)] == [1.0, 3.0]
    assert _lost() - before == 1


def test_shutdown_flushes_within_its_bound_and_counts_what_it_could_not_write(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    log = PredictionLog(url, telemetry(), flush_rows=50)
    before = _lost()
    n = 20_000
    log.append("m", "1", latency_ms=1.0, records=[{"x": float(i)} for i in range(n)], outputs=list(range(n)))
    log.start()
    log.stop(timeout=0.0)  # no time to flush: every row is either written or counted lost, none vanish
    written = len(read_predictions(url)) if (tmp_path / "predictions.db").exists() else 0
    assert written + (_lost() - before) == n
