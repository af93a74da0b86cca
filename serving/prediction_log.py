"""The prediction log: every prediction (inputs, output, model version, latency, time) in a database.

Requests only append one entry each to an in-memory deque (no lock, no wake-up); a background
thread wakes every ``flush_seconds``, takes everything queued and writes it in transactions of up
to ``flush_rows`` rows through SQLAlchemy (SQLite by default, Postgres by URL). A database outage
never fails a prediction: the rows the database did not take wait in memory (within ``capacity``,
beyond which new rows are counted in ``driftgate_prediction_log_lost``) and are written first once it
answers again; a retry of rows whose commit did answer is a no-op (a logged ``(id, role)`` is skipped).
A row the database refuses on its own (not an outage) is lost alone, and counted.

The same thread applies the log's retention every ``prune_seconds`` (:mod:`driftgate.stores.log_retention`:
by age and row count, never a labelled row or one the shadow has not read), and ``sample`` below 1
logs only that share of requests (the answer, and its ids, are the same either way).

Why time-based batches: with a ``queue.Queue`` every put woke the writer, which then wrote the one
or two rows queued so far in a transaction of their own; that writer took the GIL from the event
loop thousands of times a second and cost the service ~15 % of its throughput (bench/serve.py).
"""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec
import sqlalchemy as sa

from driftgate.serving.telemetry import Telemetry
from driftgate.stores.log_retention import LogRetention, prune_predictions
from driftgate.stores.predictions_db import (
    CHAMPION_ROLE,
    PredictionRow,
    connect,
    existing_ids,
    insert_prediction_rows,
    predictions_table,
)

log = logging.getLogger(__name__)


class _Request(NamedTuple):
    """One request's predictions as queued (the request path only appends these)."""

    ts: str
    model: str
    version: str
    latency_ms: float
    records: list[dict[str, Any]]
    outputs: list[Any]
    ids: list[str] | None
    role: str


class _Row(NamedTuple):
    """One record's prediction, not yet encoded."""

    ts: str
    model: str
    version: str
    latency_ms: float
    record: Any
    output: Any
    prediction_id: str | None
    role: str


class _Outage(Exception):  # noqa: N818 (a signal between the writer's methods, never raised out of them)
    """The database stopped answering in the middle of a chunk: ``rows`` (not written) wait for it."""

    def __init__(self, rows: list[_Row]) -> None:
        super().__init__(f"{len(rows)} rows wait for the database")
        self.rows = rows


class PredictionLog:
    """The writer of the prediction log: ``append`` queues (never blocks), a thread writes."""

    def __init__(
        self,
        url: str,
        telemetry: Telemetry,
        *,
        flush_rows: int = 256,
        flush_seconds: float = 0.5,  # fewer, larger transactions: a commit costs ~as much as 100 rows
        capacity: int = 100_000,
        retention: LogRetention | None = None,
        prune_seconds: float = 60.0,
        sample: float = 1.0,
    ) -> None:
        self.url = url
        self.telemetry = telemetry
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.capacity = capacity
        self.retention = retention or LogRetention()
        self.prune_seconds = prune_seconds
        self.sample = sample
        self._sampler = random.Random()  # a share of traffic, not a secret
        self._pruned_at = time.monotonic()
        self._queue: collections.deque[_Request] = collections.deque()  # one entry per request
        self._appended = 0  # rows queued, ever (only append() writes it)
        self._taken = 0  # rows written or lost, ever (only the writer thread writes it)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._engine: sa.Engine | None = None
        self._engine_lock = threading.Lock()
        self._deadline = float("inf")  # set by stop(): the flush ends then
        self._waiting: list[_Row] = []  # rows an outage kept from the database, written first next time
        self.on_done: Callable[[Iterable[str]], None] | None = None  # ids written or lost (an IdLedger's release)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="driftgate-prediction-log", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Flush what is queued for at most ``timeout`` seconds; what is left then is counted lost."""
        self._deadline = time.monotonic() + timeout
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout + self.flush_seconds + 1.0)  # + one batch already being written
        left = self._appended - self._taken
        if self.on_done is not None:
            self.on_done(pid for request in self._queue for pid in request.ids or [])
            self.on_done(r.prediction_id for r in self._waiting if r.prediction_id is not None)
        self._waiting = []
        self._queue.clear()
        if left:
            self.telemetry.predlog_lost.inc(left)
            log.warning("prediction log: %d queued rows not written by shutdown (counted lost)", left)
        if self._engine is not None:
            self._engine.dispose()

    def append(
        self,
        model: str,
        version: str,
        *,
        latency_ms: float,
        records: list[dict[str, Any]],
        outputs: list[Any],
        ids: list[str] | None = None,
        role: str = CHAMPION_ROLE,
    ) -> None:
        """Queue one request's predictions (with their ids, by ``role``); never blocks, never raises."""
        n = min(len(records), len(outputs))
        if self.sample < 1.0 and role == CHAMPION_ROLE and self._sampler.random() >= self.sample:
            self.telemetry.predlog_sampled_out.inc(n)
            if ids and self.on_done is not None:  # never logged: the ledger forgets them
                self.on_done(ids)
            return
        if self._appended - self._taken + n > self.capacity:
            self.telemetry.predlog_lost.inc(n)
            if ids and self.on_done is not None:
                self.on_done(ids)
            return
        self._appended += n
        self._queue.append(
            _Request(
                ts=datetime.now(UTC).isoformat(),
                model=model,
                version=version,
                latency_ms=latency_ms,
                records=records,
                outputs=outputs,
                ids=ids,
                role=role,
            )
        )

    def _connect(self) -> sa.Engine:
        engine = self._engine
        if engine is None:
            with self._engine_lock:  # the writer and an id lookup may both be first: one creates the tables
                if self._engine is None:
                    self._engine = connect(self.url)
                engine = self._engine
        return engine

    def logged_ids(self, ids: list[str]) -> set[str]:
        """Which of ``ids`` a logged prediction carries (a blocking read)."""
        if not ids:
            return set()
        with self._connect().connect() as conn:
            return existing_ids(conn, predictions_table, ids)

    def _take(self) -> list[_Row]:
        """Everything queued, as rows."""
        rows: list[_Row] = []
        while self._queue:
            request = self._queue.popleft()
            ids = request.ids
            for i, (record, output) in enumerate(zip(request.records, request.outputs, strict=False)):
                rows.append(
                    _Row(
                        ts=request.ts,
                        model=request.model,
                        version=request.version,
                        latency_ms=request.latency_ms,
                        record=record,
                        output=output,
                        prediction_id=ids[i] if ids else None,
                        role=request.role,
                    )
                )
        return rows

    def _params(self, rows: list[_Row]) -> list[tuple[_Row, PredictionRow]]:
        """Rows with their insert parameters; a row that cannot be encoded is lost alone (and counted)."""
        encode = msgspec.json.encode
        params = []
        for row in rows:
            try:
                params.append(
                    (
                        row,
                        PredictionRow(
                            ts=row.ts,
                            model_name=row.model,
                            model_version=row.version,
                            latency_ms=row.latency_ms,
                            inputs=encode(row.record).decode(),
                            output=encode(row.output).decode(),
                            prediction_id=row.prediction_id,
                            role=row.role,
                        ),
                    )
                )
            except Exception as exc:  # e.g. a value msgspec cannot encode: this row only
                self.telemetry.predlog_lost.inc()
                log.warning("prediction log lost a row it cannot encode (%s)", type(exc).__name__)
        return params

    def _insert(self, params: list[PredictionRow]) -> int:
        """Insert rows in one transaction; the rows inserted (a repeated ``(prediction_id, role)`` is skipped)."""
        return insert_prediction_rows(self._connect(), params)

    def _one_by_one(self, params: list[tuple[_Row, PredictionRow]]) -> int:
        """After a failed batch: each row alone, so one bad row loses only itself.

        Raises:
            _Outage: 3 failures in a row: not bad rows but a database that does not answer; those
                rows and the rest wait (what was written before is counted written).
        """
        written, failed, lost = 0, 0, 0
        for i, (_, p) in enumerate(params):
            try:
                written += max(self._insert([p]), 0)
                lost, failed = lost + failed, 0  # the failures before a success were bad rows
            except Exception as exc:  # this row (or the database) failed
                self._engine = None
                failed += 1
                log.warning("prediction log could not write a row: %s", exc)
                if failed >= 3:
                    self.telemetry.predlog_lost.inc(lost)
                    self.telemetry.predlog_written.inc(written)
                    raise _Outage([row for row, _ in params[i - failed + 1 :]]) from exc
        self.telemetry.predlog_lost.inc(lost + failed)
        return written

    def _write(self, rows: list[_Row]) -> None:
        """Write ``rows`` (one transaction, or row by row after a failure).

        Raises:
            _Outage: the database stopped answering; the rows it did not take.
        """
        params = self._params(rows)
        if not params:
            return
        try:
            written = self._insert([p for _, p in params])
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

    def _flush(self, rows: list[_Row]) -> list[_Row]:
        """Write ``rows`` in transactions of ``flush_rows``; the rows left when the shutdown deadline passed."""
        for start in range(0, len(rows), self.flush_rows):
            if self._stop.is_set() and time.monotonic() >= self._deadline:
                return rows[start:]
            chunk = rows[start : start + self.flush_rows]
            try:
                self._write(chunk)
            except _Outage as outage:  # the database is away: its rows and the rest wait for the next interval
                waiting = {id(r) for r in outage.rows}
                done = [r for r in chunk if id(r) not in waiting]
                self._taken += len(done)
                if self.on_done is not None:
                    self.on_done(r.prediction_id for r in done if r.prediction_id is not None)
                log.warning("prediction log: the database does not answer; %d rows wait", len(rows) - start - len(done))
                self._waiting = [*outage.rows, *rows[start + self.flush_rows :]]
                return []
            except Exception:  # the writer must outlive anything a row or the database does
                log.exception("prediction log writer failed on a batch")
                self.telemetry.predlog_lost.inc(len(chunk))
            self._taken += len(chunk)
            if self.on_done is not None:  # the log answers for these ids now (or they were never logged)
                self.on_done(r.prediction_id for r in chunk if r.prediction_id is not None)
        return []

    def _loop(self) -> None:
        left: list[_Row] = []
        while True:
            if not self._stop.is_set():
                self._stop.wait(self.flush_seconds)  # batches by time: one wake-up per interval, not per request
            elif left or not (self._queue or self._waiting) or time.monotonic() >= self._deadline:
                return  # stopping: stop() counts what is still queued (or waiting) as lost
            else:
                time.sleep(min(self.flush_seconds, 0.2))  # stopping with rows waiting for the database
            waiting, self._waiting = self._waiting, []
            left = self._flush([*waiting, *self._take()])
            if left:  # the shutdown deadline passed: stop() counts them and releases their ids
                self._waiting = left
            if self.retention.active and time.monotonic() - self._pruned_at >= self.prune_seconds:
                self.prune()

    def prune(self) -> int:
        """Apply the retention now (on the writer's thread); the rows deleted (0 when the database fails)."""
        self._pruned_at = time.monotonic()
        try:
            deleted = prune_predictions(self._connect(), self.retention)
        except Exception as exc:  # the database is down: try again next interval, keep logging
            log.warning("prediction log: retention (%s) failed: %s", self.retention.describe(), exc)
            return 0
        if deleted:
            self.telemetry.predlog_pruned.inc(deleted)
            log.info("prediction log: deleted %d rows past its retention (%s)", deleted, self.retention.describe())
        return deleted
