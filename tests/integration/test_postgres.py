"""The prediction database on a real PostgreSQL server (as docker-compose runs it), started here on 127.0.0.1.

The SQL that differs between SQLite and Postgres: ``ON CONFLICT DO NOTHING`` for repeated ids, the
``ALTER TABLE ... ADD COLUMN`` migration of an older table, the labels join, and the queries the
shadow process tails the log with.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from driftgate.serving.prediction_log import PredictionLog
from driftgate.serving.shadow import ShadowStatus, ShadowWorker
from driftgate.serving.telemetry import telemetry
from driftgate.stores.predictions_db import (
    CHAMPION_ROLE,
    SHADOW_ROLE,
    champion_rows_after,
    connect,
    count_champion_rows,
    insert_prediction_rows,
    insert_predictions_sql,
    newest_prediction_id,
    read_labelled,
    read_predictions,
    store_labels,
)
from tests.conftest import ROOT
from tests.postgres import throwaway_postgres


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free port of 127.0.0.1 (as the postgres user when run as root)."""
    with throwaway_postgres() as pg:
        yield pg.url


@pytest.fixture
def db(postgres_url: str) -> str:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS predictions, labels")
    engine.dispose()
    return postgres_url


def _row(pid: str, role: str = CHAMPION_ROLE, version: str = "1") -> tuple[object, ...]:
    return ("2026-11-23T00:00:00+00:00", "m", version, 1.0, '{"x": 1.5}', '{"0": 0.2, "1": 0.8}', pid, role)


def test_the_prediction_log_writes_to_postgres_and_skips_a_repeated_id(db: str) -> None:
    log = PredictionLog(db, telemetry(), flush_seconds=0.05)
    before = telemetry().predlog_duplicate_ids._value.get()
    log.start()
    log.append("m", "1", latency_ms=2.0, records=[{"x": 1.0}, {"x": 2.0}], outputs=[0.1, 0.2], ids=["a", "b"])
    log.append("m", "1", latency_ms=2.0, records=[{"x": 3.0}], outputs=[0.3], ids=["a"])  # reused id: logged once
    log.append("m", "2", latency_ms=2.0, records=[{}], outputs=[0.4], ids=["a"], role=SHADOW_ROLE)  # other role: kept
    log.stop()
    rows = read_predictions(db)
    assert [(r["prediction_id"], r["role"], r["inputs"]) for r in rows] == [
        ("a", "champion", {"x": 1.0}),
        ("b", "champion", {"x": 2.0}),
        ("a", "shadow", {}),
    ]
    assert telemetry().predlog_duplicate_ids._value.get() - before == 1


def test_an_older_predictions_table_gains_the_id_and_role_columns_on_postgres(db: str) -> None:
    engine = sa.create_engine(db)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE predictions (id SERIAL PRIMARY KEY, ts VARCHAR(40) NOT NULL, model_name VARCHAR(200) "
            "NOT NULL, model_version VARCHAR(40) NOT NULL, latency_ms FLOAT NOT NULL, inputs TEXT NOT NULL, "
            "output TEXT NOT NULL)"
        )
        conn.exec_driver_sql(
            "INSERT INTO predictions (ts, model_name, model_version, latency_ms, inputs, output) "
            "VALUES ('t', 'm', '1', 1.0, '{}', '0.5')"
        )
    engine.dispose()
    connect(db).dispose()
    connect(db).dispose()  # twice: the second finds the columns there
    [old] = read_predictions(db)
    assert (old["prediction_id"], old["role"]) == (None, "champion")


def test_labels_are_stored_once_and_joined_to_their_predictions_on_postgres(db: str) -> None:
    engine = connect(db)
    assert insert_prediction_rows(engine, [_row("a"), _row("b"), _row("a", SHADOW_ROLE, "2")]) == 3
    assert insert_prediction_rows(engine, [_row("a"), _row("c")]) == 1  # ON CONFLICT DO NOTHING
    stored, unknown, duplicate = store_labels(engine, [("a", "1"), ("nope", "0"), ("a", "0"), ("b", "0")])
    assert (stored, unknown, duplicate) == (["a", "b"], ["nope"], ["a"])
    assert store_labels(engine, [("b", "1")]) == ([], [], ["b"])  # never overwritten
    labelled = read_labelled(db, "m")
    assert sorted((r["prediction_id"], r["role"], r["label"]) for r in labelled) == [
        ("a", "champion", "1"),
        ("a", "shadow", "1"),
        ("b", "champion", "0"),
    ]
    engine.dispose()


def test_the_shadow_process_queries_tail_the_log_on_postgres(db: str) -> None:
    engine = connect(db)
    insert_prediction_rows(engine, [_row(f"p{i}") for i in range(5)])
    start = newest_prediction_id(engine)
    insert_prediction_rows(engine, [_row("q0"), _row("q1", SHADOW_ROLE), _row("q2", version="7"), _row("q3")])
    rows = champion_rows_after(engine, start, limit=10)
    assert [(r.prediction_id, r.model_version) for r in rows] == [("q0", "1"), ("q2", "7"), ("q3", "1")]
    assert rows[0].inputs == '{"x": 1.5}'
    assert count_champion_rows(engine, start, newest_prediction_id(engine)) == 3
    assert champion_rows_after(engine, rows[-1][0], limit=10) == []
    engine.dispose()


@pytest.fixture
def shadow_worker(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ShadowWorker, str]]:
    """A shadow worker on the Postgres log, with a real challenger in a temp MLflow registry."""
    from driftgate.registry.client import CHALLENGER
    from driftgate.registry.tracking import configure_mlflow
    from driftgate.settings import get_settings
    from tests.models import register_version

    monkeypatch.setenv("DRIFTGATE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DRIFTGATE_DATASETS_DIR", str(ROOT / "datasets"))
    monkeypatch.setenv("DRIFTGATE_DATASET", "synthetic-classification")
    monkeypatch.setenv("DRIFTGATE_PREDICTIONS_DB_URL", db)
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    client = configure_mlflow(settings)
    connect(db).dispose()  # the tables, before the worker takes its starting point
    worker = ShadowWorker(settings, ShadowStatus.create(multiprocessing.get_context("spawn")), batch_rows=10)
    version, _ = register_version(worker.spec, worker.name, seed=2)
    client.set_registered_model_alias(worker.name, CHALLENGER, version)
    assert worker.refresh()
    yield worker, db
    worker.engine.dispose()
    get_settings.cache_clear()


RECORD = '{"num_0": 0.1, "num_1": -0.3, "num_2": 1.2, "num_3": null, "cat_0": "a", "cat_1": "b"}'


def test_a_row_committed_after_a_later_id_is_still_shadowed_on_postgres(
    shadow_worker: tuple[ShadowWorker, str],
) -> None:
    worker, db = shadow_worker
    engine = connect(db)
    slow = engine.connect()
    slow_tx = slow.begin()  # a transaction that takes its id first and commits last (ids come from a sequence)
    one = insert_predictions_sql(engine)
    slow.exec_driver_sql(one, ("t", "m", "9", 1.0, RECORD, "0.5", "late", CHAMPION_ROLE))
    insert_prediction_rows(engine, [("t", "m", "9", 1.0, RECORD, "0.5", "early", CHAMPION_ROLE)])
    assert worker.step() == 1  # only "early" is visible yet
    slow_tx.commit()
    slow.close()
    assert worker.step() == 1  # "late" became visible behind the watermark: read all the same
    assert worker.step() == 0  # and each row once
    shadowed = [r["prediction_id"] for r in read_predictions(db) if r["role"] == SHADOW_ROLE]
    assert sorted(shadowed) == ["early", "late"]
    engine.dispose()


def test_the_watermark_passes_rows_once_the_commit_lag_is_over_on_postgres(
    shadow_worker: tuple[ShadowWorker, str],
) -> None:
    worker, db = shadow_worker
    worker.commit_lag_s = 0.2
    engine = connect(db)
    insert_prediction_rows(engine, [("t", "m", "9", 1.0, RECORD, "0.5", f"r{i}", CHAMPION_ROLE) for i in range(3)])
    assert worker.step() == 3
    time.sleep(0.3)
    assert worker.step() == 0
    champion = [r["id"] for r in read_predictions(db) if r["role"] == CHAMPION_ROLE]
    assert worker.after_id == max(champion)  # nothing held above the watermark any more
    engine.dispose()
