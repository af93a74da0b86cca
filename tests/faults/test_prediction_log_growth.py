"""Fault: the prediction log grows without end. Retention keeps it bounded, and keeps what is needed.

A real service on 127.0.0.1 with a row cap answers thousands of one-record requests; a share of the
first predictions get labels through ``POST /feedback``. The log's row count stays bounded while
the labelled rows (which the realized metric, the probation, the live gate and feedback batches
read) all survive with their inputs; the newest rows are the ones kept. See docs/reliability.md.
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from driftgate.local.servers import ServerThread
from driftgate.serving.app import create_app
from driftgate.settings import get_settings
from driftgate.stores.log_retention import LogRetention, prune_predictions
from driftgate.stores.predictions_db import (
    PredictionRow,
    connect,
    insert_prediction_rows,
    predictions_table,
    read_labelled,
    read_predictions,
)
from tests.service.conftest import API_KEY, Registry, record
from tests.service.test_service import served_version, wait_for

pytestmark = pytest.mark.slow  # thousands of requests to a real service

KEY = {"X-API-Key": API_KEY}
MAX_ROWS = 300
LABELLED = 40
REQUESTS = 2400  # 8x the cap


def _count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(predictions_table)).scalar() or 0)


def _metric(url: str, *names: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(names))


def _drive(url: str, n: int, ids: list[str], clients: int = 4) -> None:
    """``n`` one-record /predict requests from ``clients`` threads; the ids answered go to ``ids``."""

    def client(share: int) -> None:
        with httpx.Client(base_url=url) as c:
            for i in range(share):
                r = c.post("/predict", json={"records": [record(num_0=(i % 50) / 10)]})
                assert r.status_code == 200, r.text
                ids.extend(r.json()["ids"])

    threads = [threading.Thread(target=client, args=(n // clients,)) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_a_row_capped_log_stays_bounded_under_traffic_and_keeps_every_labelled_row(
    champion_v1: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTGATE_PREDICTION_LOG_MAX_ROWS", str(MAX_ROWS))
    monkeypatch.setenv("DRIFTGATE_PREDICTION_LOG_PRUNE_SECONDS", "0.2")
    get_settings.cache_clear()
    settings = get_settings()
    db = settings.resolved_predictions_db_url()
    engine = connect(db)
    app = create_app(settings)
    with ServerThread(app) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        predlog = app.state.service.predlog
        written0 = _metric(srv.url, "driftgate_prediction_log_written_total")  # the counters are per process
        pruned0 = _metric(srv.url, "driftgate_prediction_log_pruned_total")
        assert predlog.retention.max_rows == MAX_ROWS  # from the settings
        # the shadow's 30 s grace, shortened so that a few seconds of traffic cross it (no shadow runs here)
        predlog.retention = dataclasses.replace(predlog.retention, grace_s=0.5)
        first: list[str] = []
        _drive(srv.url, LABELLED * 2, first, clients=1)
        assert wait_for(lambda: len(read_predictions(db)) >= LABELLED * 2)
        labelled = first[::2]  # every other one of the oldest predictions gets its label
        body = {"labels": [{"id": pid, "label": str(i % 2)} for i, pid in enumerate(labelled)]}
        answer = httpx.post(f"{srv.url}/feedback", json=body, headers=KEY)
        assert answer.status_code == 200, answer.text
        assert answer.json()["stored"] == LABELLED

        counts: list[int] = []
        stop = threading.Event()

        def watch() -> None:
            while not stop.wait(0.05):
                counts.append(_count(engine))

        watcher = threading.Thread(target=watch)
        watcher.start()
        later: list[str] = []
        try:
            _drive(srv.url, REQUESTS, later)
        finally:
            stop.set()
            watcher.join()
        total = LABELLED * 2 + REQUESTS
        assert wait_for(lambda: _metric(srv.url, "driftgate_prediction_log_written_total") == written0 + total)
        # once the last rows are written and past the grace, the log holds the cap plus the old labelled rows
        assert wait_for(lambda: _count(engine) == MAX_ROWS + LABELLED, timeout=30), _count(engine)
        late = httpx.post(f"{srv.url}/feedback", json={"labels": [{"id": later[-1], "label": "1"}]}, headers=KEY)
        assert late.json()["stored"] == 1, late.text  # a kept prediction still takes its label
        pruned = _metric(srv.url, "driftgate_prediction_log_pruned_total") - pruned0

    rows = read_predictions(db)
    kept = {r["prediction_id"] for r in rows}
    assert set(labelled) <= kept  # no labelled row was pruned
    assert len(read_labelled(db, champion_v1.name)) == LABELLED + 1
    assert {r["prediction_id"]: r["inputs"] for r in rows if r["prediction_id"] in labelled}.keys() == set(labelled)
    unlabelled_kept = [r for r in rows if r["prediction_id"] not in labelled]
    assert len(unlabelled_kept) == MAX_ROWS
    assert {r["prediction_id"] for r in unlabelled_kept} <= set(later)  # the newest are the ones kept
    assert max(counts) < total / 2, (max(counts), total)  # bounded while the traffic ran, never the whole history
    assert pruned == total - MAX_ROWS - LABELLED
    print(f"\nrequests {total}, row cap {MAX_ROWS}, most rows {max(counts)}, kept {len(rows)}, pruned {pruned:.0f}")


def test_sampling_logs_a_share_and_an_unlogged_id_is_an_unknown_label(
    champion_v1: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTGATE_PREDICTION_LOG_SAMPLE", "0.25")
    get_settings.cache_clear()
    settings = get_settings()
    db = settings.resolved_predictions_db_url()
    with ServerThread(create_app(settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        counted = ("driftgate_prediction_log_written_total", "driftgate_prediction_log_sampled_out_total")
        before = _metric(srv.url, *counted)  # the counters are per process
        ids: list[str] = []
        _drive(srv.url, 400, ids, clients=2)
        assert len(set(ids)) == 400  # every answer carries its id, logged or not

        assert wait_for(lambda: _metric(srv.url, *counted) == before + 400)
        logged = {r["prediction_id"] for r in read_predictions(db)}
        unlogged = [i for i in ids if i not in logged]
        answer = httpx.post(
            f"{srv.url}/feedback",
            json={"labels": [{"id": unlogged[0], "label": "1"}, {"id": next(iter(logged)), "label": "0"}]},
            headers=KEY,
        )
    assert 40 <= len(logged) <= 160, len(logged)  # 25 % of 400, far outside 6 standard deviations either way
    assert answer.json()["stored"] == 1
    assert answer.json()["unknown"]["ids"] == [unlogged[0]]


def test_rows_inside_the_grace_survive_any_cap(tmp_path: Path) -> None:
    """The shadow's rows: a cap of one row deletes nothing logged in the last ``grace_s`` seconds."""
    engine = connect(f"sqlite:///{tmp_path / 'p.db'}")
    now = datetime.now(UTC)
    rows = [
        PredictionRow((now - timedelta(seconds=age)).isoformat(), "m", "1", 1.0, "{}", "0", f"p{age}", "champion")
        for age in (120, 90, 10, 5, 1)
    ]
    insert_prediction_rows(engine, rows)
    assert prune_predictions(engine, LogRetention(max_rows=1), now=now) == 2
    assert [r["prediction_id"] for r in read_predictions(str(engine.url))] == ["p10", "p5", "p1"]
    assert prune_predictions(engine, LogRetention(max_age_hours=1 / 3600), now=now + timedelta(seconds=40)) == 3
