"""The prediction log: every prediction (inputs, output, model version, latency, time) in a database.

Requests only append to an in-memory queue; a background thread writes in batches through
SQLAlchemy (SQLite by default, Postgres by URL). A database outage never fails a prediction:
the rows are dropped, logged and counted in ``driftgate_prediction_log_lost``.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from driftgate.predictions_db import CHAMPION_ROLE, connect, insert_predictions_sql
from driftgate.serving.telemetry import Telemetry

log = logging.getLogger(__name__)


class PredictionLog:
    def __init__(
        self,
        url: str,
        telemetry: Telemetry,
        flush_rows: int = 256,
        flush_seconds: float = 0.1,
        capacity: int = 100_000,
    ) -> None:
        self.url = url
        self.telemetry = telemetry
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=capacity)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._engine: sa.Engine | None = None
        self._deadline = float("inf")  # set by stop(): the flush ends then

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="driftgate-prediction-log", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Flush what is queued for at most ``timeout`` seconds; what is left then is counted lost."""
        self._deadline = time.monotonic() + timeout
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout + self.flush_seconds + 1.0)  # + one batch already being written
        left = 0
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
                left += 1
        if left:
            self.telemetry.predlog_lost.inc(left)
            log.warning("prediction log: %d queued rows not written by shutdown (counted lost)", left)
        if self._engine is not None:
            self._engine.dispose()

    def append(
        self,
        model: str,
        version: str,
        latency_ms: float,
        records: list[dict[str, Any]],
        outputs: list[Any],
        ids: list[str] | None = None,
        role: str = CHAMPION_ROLE,
    ) -> None:
        """Queue one request's predictions (with their ids, by ``role``); never blocks, never raises."""
        ts = datetime.now(UTC).isoformat()
        for i, (rec, out) in enumerate(zip(records, outputs, strict=False)):
            row = {
                "ts": ts,
                "model_name": model,
                "model_version": version,
                "latency_ms": latency_ms,
                "inputs": rec,
                "output": out,
                "prediction_id": ids[i] if ids else None,
                "role": role,
            }
            try:
                self._queue.put_nowait(row)
            except queue.Full:
                self.telemetry.predlog_lost.inc()

    def _connect(self) -> sa.Engine:
        if self._engine is None:
            self._engine = connect(self.url)
        return self._engine

    def _drain(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        try:
            rows.append(self._queue.get(timeout=self.flush_seconds))
            while len(rows) < self.flush_rows:
                rows.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        return rows

    def _params(self, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        """Rows as insert parameters; a row that cannot be encoded is lost alone (and counted)."""
        encode = msgspec.json.encode
        params = []
        for r in rows:
            try:
                params.append((r["ts"], r["model_name"], r["model_version"], r["latency_ms"],
                               encode(r["inputs"]).decode(), encode(r["output"]).decode(), r["prediction_id"],
                               r["role"]))  # fmt: skip
            except Exception as exc:  # e.g. a value msgspec cannot encode: this row only
                self.telemetry.predlog_lost.inc()
                log.warning("prediction log lost a row it cannot encode (%s)", type(exc).__name__)
        return params

    def _insert(self, params: list[tuple[Any, ...]]) -> int:
        engine = self._connect()
        sql = insert_predictions_sql(engine)  # a repeated (prediction_id, role) is skipped, not an error
        with engine.begin() as conn:
            # the driver's executemany: the Core insert's per-row processing cost ~20 % of the service's CPU
            return int(conn.exec_driver_sql(sql, params).rowcount)

    def _one_by_one(self, params: list[tuple[Any, ...]]) -> int:
        """After a failed batch: each row alone, so one bad row loses only itself; 3 failures in a row = outage."""
        written, failures, lost = 0, 0, 0
        for i, p in enumerate(params):
            try:
                written += max(self._insert([p]), 0)
                failures = 0
            except Exception as exc:  # this row (or the database) failed: count it, go on
                self._engine = None
                lost, failures = lost + 1, failures + 1
                log.warning("prediction log lost a row: %s", exc)
                if failures >= 3:  # not a bad row but an outage: the rest are lost too
                    lost += len(params) - i - 1
                    break
        self.telemetry.predlog_lost.inc(lost)
        return written

    def _write(self, rows: list[dict[str, Any]]) -> None:
        params = self._params(rows)
        if not params:
            return
        try:
            written = self._insert(params)
        except Exception as exc:  # outage or one bad row: find out row by row (bounded), keep serving
            self._engine = None
            log.warning("prediction log: a batch of %d rows failed (%s); writing them one by one", len(params), exc)
            done = self._one_by_one(params)
            self.telemetry.predlog_written.inc(done)
            return
        if 0 <= written < len(params):
            log.warning("prediction log skipped %d rows whose prediction id was already logged", len(params) - written)
            self.telemetry.predlog_duplicate_ids.inc(len(params) - written)
        self.telemetry.predlog_written.inc(len(params))

    def _loop(self) -> None:
        while not self._stop.is_set() or (not self._queue.empty() and time.monotonic() < self._deadline):
            try:
                rows = self._drain()
                if rows:
                    self._write(rows)
            except Exception:  # the writer must outlive anything a row or the database does
                log.exception("prediction log writer failed on a batch")
