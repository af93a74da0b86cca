"""Prediction ids, POST /feedback and the shadow challenger, on a real service on 127.0.0.1."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from driftgate.local.servers import ServerThread
from driftgate.registry.client import CHALLENGER
from driftgate.serving.app import create_app
from driftgate.stores.predictions_db import connect, read_labelled, read_predictions
from tests.models import register_version
from tests.service.conftest import API_KEY, Registry, record
from tests.service.test_service import served_version, wait_for

KEY = {"X-API-Key": API_KEY}


def _logged(url: str, n: int) -> list[dict[str, object]]:
    assert wait_for(lambda: len(read_predictions(url)) >= n)
    return read_predictions(url)


def test_every_prediction_has_an_id_that_is_logged_with_it(champion_v1: Registry) -> None:
    db = champion_v1.settings.resolved_predictions_db_url()
    with ServerThread(create_app(champion_v1.settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        generated = httpx.post(f"{srv.url}/predict", json={"records": [record(), record(num_0=2.0)]}).json()
        named = httpx.post(f"{srv.url}/predict", json={"records": [record()] * 3}, headers={"X-Request-Id": "req-7"})
        assert named.status_code == 200, named.text
        assert named.json()["ids"] == ["req-7-0", "req-7-1", "req-7-2"]
        too_long = httpx.post(f"{srv.url}/predict", json={"records": [record()]}, headers={"X-Request-Id": "x" * 101})
        assert too_long.status_code == 422
        assert too_long.json()["errors"][0]["field"] == "X-Request-Id"
        rows = _logged(db, 5)
    assert len(generated["ids"]) == 2
    assert len(set(generated["ids"])) == 2
    assert [r["prediction_id"] for r in rows] == [*generated["ids"], "req-7-0", "req-7-1", "req-7-2"]
    assert {r["role"] for r in rows} == {"champion"}


def test_feedback_stores_labels_and_reports_unknown_and_duplicate_ids(champion_v1: Registry) -> None:
    db = champion_v1.settings.resolved_predictions_db_url()
    with ServerThread(create_app(champion_v1.settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        ids = httpx.post(f"{srv.url}/predict", json={"records": [record()] * 3}).json()["ids"]
        _logged(db, 3)
        body = {"labels": [{"id": ids[0], "label": "1"}, {"id": ids[1], "label": 0}, {"id": "nope", "label": "1"}]}
        assert httpx.post(f"{srv.url}/feedback", json=body).status_code == 401  # the admin key guards it
        assert httpx.post(f"{srv.url}/feedback", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
        first = httpx.post(f"{srv.url}/feedback", json=body, headers=KEY)
        assert first.status_code == 200, first.text
        assert first.json() == {
            "stored": 2,
            "unknown": {"count": 1, "ids": ["nope"]},
            "duplicates": {"count": 0, "ids": []},
        }
        again = [{"id": ids[0], "label": "0"}, {"id": ids[2], "label": "1"}, {"id": ids[2], "label": "1"}]
        second = httpx.post(f"{srv.url}/feedback", json={"labels": again}, headers=KEY).json()
        assert second["stored"] == 1
        assert second["duplicates"] == {"count": 2, "ids": [ids[0], ids[2]]}  # never overwritten, never twice
        metrics = httpx.get(f"{srv.url}/metrics").text
    labelled = {r["prediction_id"]: r["label"] for r in read_labelled(db, champion_v1.name)}
    assert labelled == {ids[0]: "1", ids[1]: "0", ids[2]: "1"}
    assert 'driftgate_feedback_labels_total{outcome="unknown"}' in metrics


@pytest.mark.parametrize(
    ("labels", "field", "reason"),
    [
        ([{"id": "a", "label": "2"}], "labels[0].label", "unknown class '2'"),
        ([{"id": "a", "label": "1"}, {"id": "b", "label": True}], "labels[1].label", "must be a class"),
        ([{"id": "a", "label": None}], "labels[0].label", "is required"),
        ([{"id": "a"}], "labels[0]", "exactly 'id' and 'label'"),
        ([{"id": 1.5, "label": "1"}], "labels[0].id", "string or integer"),
        ([], "labels", "at least 1"),
        ([{"id": str(i), "label": "1"} for i in range(51)], "labels", "at most 50"),
    ],
)
def test_bad_labels_are_422_naming_the_item_and_the_reason(
    champion_v1: Registry, labels: list[object], field: str, reason: str
) -> None:
    with ServerThread(create_app(champion_v1.settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        r = httpx.post(f"{srv.url}/feedback", json={"labels": labels}, headers=KEY)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field
    assert reason in r.json()["errors"][0]["reason"]


def test_an_older_prediction_database_gains_the_id_and_role_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE predictions (id INTEGER PRIMARY KEY, ts VARCHAR(40) NOT NULL, model_name VARCHAR(200) "
            "NOT NULL, model_version VARCHAR(40) NOT NULL, latency_ms FLOAT NOT NULL, inputs TEXT NOT NULL, "
            "output TEXT NOT NULL)"
        )
        conn.execute("INSERT INTO predictions VALUES (1, 't', 'm', '1', 1.0, '{}', '0.5')")
    connect(f"sqlite:///{path}").dispose()
    [row] = read_predictions(f"sqlite:///{path}")
    assert row["prediction_id"] is None
    assert row["role"] == "champion"


def _shadow_count(url: str, version: str) -> float:
    line = f'driftgate_shadow_predictions_total{{version="{version}"}} '
    found = [x for x in httpx.get(f"{url}/metrics").text.splitlines() if x.startswith(line)]
    return float(found[0].split()[-1]) if found else 0.0


@pytest.mark.slow  # the shadow process is spawned and imports its world
def test_the_challenger_scores_live_requests_in_the_shadow_with_the_same_ids(champion_v1: Registry) -> None:
    db = champion_v1.settings.resolved_predictions_db_url()
    challenger, _ = register_version(champion_v1.spec, champion_v1.name, seed=2)
    champion_v1.client.set_registered_model_alias(champion_v1.name, CHALLENGER, challenger)
    app = create_app(champion_v1.settings)
    with ServerThread(app) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        shadow = app.state.service.shadow
        before = _shadow_count(srv.url, challenger)
        assert wait_for(lambda: shadow.version == challenger, timeout=60)  # a process of its own: spawned, imports
        answer = httpx.post(f"{srv.url}/predict", json={"records": [record(), record(cat_0="e"), record(num_0=None)]})
        assert answer.status_code == 200, answer.text
        answer = answer.json()
        assert answer["model"]["version"] == "1"  # the challenger is never in the answer
        rows = _logged(db, 6)
        process = shadow.process
        assert process is not None
        assert process.is_alive()
        # published by the service (the counters are process-wide: other tests' apps may have counted)
        assert wait_for(lambda: _shadow_count(srv.url, challenger) == before + 3)
    assert not process.is_alive()  # the shadow process ends with the service
    by_role = {(r["role"], r["prediction_id"]): r["model_version"] for r in rows}
    for pid in answer["ids"]:
        assert by_role[("champion", pid)] == "1"
        assert by_role[("shadow", pid)] == challenger


def test_id_columns_of_the_spec_are_taken_out_of_records_and_echoed(champion_v1: Registry) -> None:
    settings = champion_v1.settings
    app = create_app(settings)
    with ServerThread(app) as srv:
        app.state.service.store.spec = champion_v1.spec.model_copy(update={"id_columns": ["order_id"]})
        assert wait_for(lambda: served_version(srv.url) == "1")
        r = httpx.post(f"{srv.url}/predict", json={"records": [{**record(), "order_id": 17}, record()]})
    assert r.status_code == 200, r.text
    assert r.json()["ids"][0] == "17"
