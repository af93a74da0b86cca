"""The model service on 127.0.0.1: predictions, the input contract, hot reload, metrics, prediction log."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from mlflow.tracking import MlflowClient

from driftgate.local.servers import ServerThread
from driftgate.registry.client import set_champion
from driftgate.serving.app import create_app
from driftgate.stores.predictions_db import read_predictions
from tests.models import break_version, register_version
from tests.service.conftest import API_KEY, Registry, record


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def served_version(url: str) -> str | None:
    return httpx.get(f"{url}/ready").json().get("version")


def test_predict_answers_with_the_champion_and_its_version(champion_v1: Registry) -> None:
    with ServerThread(create_app(champion_v1.settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        r = httpx.post(f"{srv.url}/predict", json={"records": [record(), record(num_0=3.0, cat_0="c")]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model"] == {"name": champion_v1.name, "version": "1"}
        assert len(body["predictions"]) == 2
        assert all(p in ("0", "1") for p in body["predictions"])
        for probs, label in zip(body["probabilities"], body["predictions"], strict=True):
            assert set(probs) == {"0", "1"}
            assert abs(sum(probs.values()) - 1) < 1e-9
            assert max(probs, key=probs.get) == label
        info = httpx.get(f"{srv.url}/model").json()
        assert info["version"] == "1"
        assert info["alias"] == "champion"
        logged = MlflowClient().get_run(info["run_id"]).data.metrics
        assert info["metrics"] == logged  # the run's own metrics, measured on held-out rows
        assert 0.5 < info["metrics"]["test_roc_auc"] <= 1.0
        assert info["input_schema"]["required"] == champion_v1.spec.feature_names
        assert httpx.get(f"{srv.url}/").json()["model"]["version"] == "1"
        doc = httpx.get(f"{srv.url}/schema/openapi.json").json()
        example = doc["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["example"]
        assert list(example["records"][0]) == champion_v1.spec.feature_names  # OpenAPI carries a real example
        assert httpx.post(f"{srv.url}/predict", json=example).status_code == 200


def test_ready_is_503_until_a_champion_exists_then_the_service_picks_it_up(registry: Registry) -> None:
    with ServerThread(create_app(registry.settings)) as srv:
        r = httpx.get(f"{srv.url}/ready")
        assert r.status_code == 503
        assert r.json()["ready"] is False
        p = httpx.post(f"{srv.url}/predict", json={"records": [record()]})
        assert p.status_code == 503
        assert "no model to serve" in p.json()["detail"]
        assert httpx.get(f"{srv.url}/health").status_code == 200
        version, _ = register_version(registry.spec, registry.name, seed=1)
        set_champion(registry.client, registry.name, version)
        assert wait_for(lambda: httpx.get(f"{srv.url}/ready").status_code == 200)


BAD_BODIES = [
    ({"records": [{k: v for k, v in record().items() if k != "num_1"}]}, "num_1", "is required"),
    ({"records": [record(num_0="1.5")]}, "num_0", "must be a number"),
    ({"records": [record(num_2=True)]}, "num_2", "must be a number"),
    ({"records": [record(cat_0="zzz")]}, "cat_0", "unknown category"),
    ({"records": [record(cat_1=3)]}, "cat_1", "must be a string"),
    (
        b'{"records": [{"num_0": 0.1, "num_1": 0, "num_2": 1, "num_3": 1e400, "cat_0": "a", "cat_1": "b"}]}',
        "num_3",
        "finite",
    ),
    ({"records": [record(num_3=11.0)]}, "num_3", "above the allowed maximum"),
    ({"records": []}, "records", "at least 1"),
    ({"records": [record()] * 51}, "records", "maximum is 50"),
    ({"records": [record(extra=1)]}, "extra", "not an input"),
    ({"records": ["not an object"]}, "records", "must be an object"),
    ({"rows": [record()]}, "", ""),
]


@pytest.mark.parametrize(("body", "field", "reason"), BAD_BODIES)
def test_bad_input_gets_a_4xx_naming_the_field_and_the_reason(
    champion_v1: Registry, body: dict[str, object] | bytes, field: str, reason: str
) -> None:
    with ServerThread(create_app(champion_v1.settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        if isinstance(body, bytes):
            r = httpx.post(f"{srv.url}/predict", content=body, headers={"content-type": "application/json"})
        else:
            r = httpx.post(f"{srv.url}/predict", json=body)
        assert 400 <= r.status_code < 500, r.text
        errors = r.json()["errors"]
        assert errors, r.text
        if field:
            assert errors[0]["field"].startswith(field)
            assert reason in errors[0]["reason"]


def test_malformed_json_and_wrong_content_are_4xx_not_500(champion_v1: Registry) -> None:
    with ServerThread(create_app(champion_v1.settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        for content in (b"{not json", b"", b"[1, 2]", b'{"records": "abc"}', b'{"records": [{"num_0": NaN}]}'):
            r = httpx.post(f"{srv.url}/predict", content=content, headers={"content-type": "application/json"})
            assert 400 <= r.status_code < 500, (content, r.status_code, r.text)
            assert r.json()["errors"][0]["reason"]


async def _load(url: str, clients: int, stop: asyncio.Event, answers: list[tuple[int, str | None]]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:

        async def one() -> None:
            while not stop.is_set():
                try:
                    r = await client.post("/predict", json={"records": [record()]})
                    answers.append((r.status_code, r.json().get("model", {}).get("version")))
                except httpx.HTTPError as exc:
                    answers.append((0, repr(exc)))

        await asyncio.gather(*(one() for _ in range(clients)))


def test_hot_reload_under_load_drops_no_request_and_serves_the_new_champion_within_two_polls(
    champion_v1: Registry,
) -> None:
    reg = champion_v1
    v2, _ = register_version(reg.spec, reg.name, seed=2)
    poll = reg.settings.poll_seconds
    with ServerThread(create_app(reg.settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        answers: list[tuple[int, str | None]] = []

        async def scenario() -> None:
            stop = asyncio.Event()
            load = asyncio.create_task(_load(srv.url, 16, stop, answers))
            await asyncio.sleep(1.0)
            moved = time.monotonic()
            await asyncio.to_thread(set_champion, reg.client, reg.name, v2)
            deadline = moved + 2 * poll + 60  # generous: a loaded CI machine is slow, a hang must still fail
            while not any(v == v2 for _, v in answers[-50:]):
                assert time.monotonic() < deadline, f"version {v2} never served after the alias moved"
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.5)
            stop.set()
            await load

        asyncio.run(scenario())
    statuses = {s for s, _ in answers}
    versions = [v for _, v in answers]
    assert statuses == {200}, [a for a in answers if a[0] != 200][:5]
    assert set(versions) == {"1", v2}
    first_new = versions.index(v2)
    assert "1" not in versions[first_new + 200 :]  # once swapped, the old model is gone (in-flight ones aside)
    assert len(answers) > 100


def test_a_broken_champion_keeps_the_old_model_serving_and_reports_the_failure(champion_v1: Registry) -> None:
    reg = champion_v1
    v2, _ = register_version(reg.spec, reg.name, seed=2)
    break_version(reg.client, reg.name, v2)
    with ServerThread(create_app(reg.settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        set_champion(reg.client, reg.name, v2)
        assert wait_for(lambda: httpx.get(f"{srv.url}/ready").json()["last_reload_error"] is not None)
        ready = httpx.get(f"{srv.url}/ready")
        assert ready.status_code == 200
        assert ready.json()["version"] == "1"
        assert f"version {v2} failed to load" in ready.json()["last_reload_error"]
        assert "failed to load" in httpx.get(f"{srv.url}/model").json()["last_reload_error"]
        r = httpx.post(f"{srv.url}/predict", json={"records": [record()]})
        assert r.status_code == 200
        assert r.json()["model"]["version"] == "1"
        metrics = httpx.get(f"{srv.url}/metrics").text
        assert _metric(metrics, "driftgate_model_reload_failures_total") >= 1


def _metric(text: str, name: str, contains: str = "") -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and contains in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_count_requests_predictions_and_the_served_version(champion_v1: Registry) -> None:
    with ServerThread(create_app(champion_v1.settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        before = _metric(httpx.get(f"{srv.url}/metrics").text, "driftgate_predictions_total")
        for _ in range(3):
            assert httpx.post(f"{srv.url}/predict", json={"records": [record(), record()]}).status_code == 200
        assert httpx.post(f"{srv.url}/predict", json={"records": []}).status_code == 422
        text = httpx.get(f"{srv.url}/metrics").text
        assert _metric(text, "driftgate_predictions_total") - before == 6
        assert _metric(text, "driftgate_served_model_version") >= 1
        assert _metric(text, "driftgate_http_requests_total", 'path="/predict"') >= 4
        assert _metric(text, "driftgate_http_request_duration_seconds_count", 'path="/predict"') >= 4


def test_predictions_are_logged_with_their_version(champion_v1: Registry) -> None:
    url = champion_v1.settings.resolved_predictions_db_url()
    with ServerThread(create_app(champion_v1.settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        httpx.post(f"{srv.url}/predict", json={"records": [record(num_0=1.25), record(num_0=-2.0)]})
        assert wait_for(lambda: len(read_predictions(url)) == 2, timeout=5)
    rows = read_predictions(url)
    assert [r["inputs"]["num_0"] for r in rows] == [1.25, -2.0]
    assert {r["model_version"] for r in rows} == {"1"}
    assert all(set(r["output"]) == {"0", "1"} for r in rows)


def test_a_prediction_log_outage_does_not_fail_predictions_and_its_rows_wait_until_shutdown(
    champion_v1: Registry, tmp_path: Path
) -> None:
    from prometheus_client import REGISTRY

    def lost() -> float:
        return REGISTRY.get_sample_value("driftgate_prediction_log_lost_total") or 0.0

    # a real fault: the database path cannot be created
    unwritable = tmp_path / "file-not-dir"
    unwritable.write_text("x")
    settings = champion_v1.settings.model_copy(update={"predictions_db_url": f"sqlite:///{unwritable}/predictions.db"})
    before = lost()
    with ServerThread(create_app(settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        r = httpx.post(f"{srv.url}/predict", json={"records": [record()] * 3})
        assert r.status_code == 200
        time.sleep(1.5)  # three flush intervals: the rows wait for the database, none is dropped
        assert lost() == before
    assert lost() - before == 3  # the database never came back: counted lost at shutdown, none vanish


def test_admin_reload_needs_the_key_and_is_off_without_one(champion_v1: Registry) -> None:
    with ServerThread(create_app(champion_v1.settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        assert httpx.post(f"{srv.url}/admin/reload").status_code == 401
        assert httpx.post(f"{srv.url}/admin/reload", headers={"X-API-Key": "wrong"}).status_code == 401
        r = httpx.post(f"{srv.url}/admin/reload", headers={"X-API-Key": API_KEY})
        assert r.status_code == 200
        assert r.json()["version"] == "1"
    no_key = champion_v1.settings.model_copy(update={"admin_api_key": None})
    with ServerThread(create_app(no_key)) as srv:
        assert httpx.post(f"{srv.url}/admin/reload", headers={"X-API-Key": API_KEY}).status_code == 404


@pytest.mark.slow  # schemathesis sends hundreds of generated requests
def test_fuzzing_the_openapi_schema_finds_no_server_error(champion_v1: Registry, tmp_path: Path) -> None:
    with ServerThread(create_app(champion_v1.settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{srv.url}/schema/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "40",
                "--generation-deterministic",
                "--exclude-path",
                "/admin/reload",
                "--workers",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=400,
            cwd=tmp_path,
        )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
