"""Shadow scoring: the ``challenger`` alias scores live traffic in a process of its own.

The service's request path does nothing for the shadow: the champion's answers are already in
the prediction log with their ids and inputs, so a separate process (``multiprocessing``,
spawned) reads the champion rows that arrive in the log, scores them with the challenger in
batches, and writes the challenger's predictions with the same ids and ``role = "shadow"``. The
monitor compares both models on the same live rows once their labels arrive; the challenger is
never part of an answer.

Why a process: inside the service, scoring on the event loop took the loop's time and scoring
in a thread took the GIL from it; both cost the service throughput (bench/serve.py measured the
in-loop version ~8-20 % below the service without a shadow). In its own process the shadow uses
the machine's other core and the service's loop pays nothing.

The service starts the process only while a ``challenger`` alias exists (one registry call per
poll); the process follows the alias itself, exits when it is gone or when the service is, and
reports its version, last error and counts through shared memory, which the service publishes as
``driftgate_shadow_predictions_total`` and ``driftgate_shadow_dropped_total``. Rows logged before
the challenger was loaded are not scored; if the process falls more than ``capacity_rows`` behind
the log, it skips ahead and counts the rows it skipped as dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import math
import multiprocessing
import multiprocessing.process
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from driftgate.predictions_db import (
    SHADOW_ROLE,
    champion_rows_after,
    connect,
    count_champion_rows,
    insert_prediction_rows,
    newest_prediction_id,
)
from driftgate.registry import CHALLENGER
from driftgate.serving.model_store import ServedModel, load_served
from driftgate.serving.telemetry import Telemetry
from driftgate.settings import Settings

log = logging.getLogger(__name__)

_TEXT = 200  # bytes of a shared version or error string


@dataclass
class ShadowStatus:
    """What the shadow process tells the service, in shared memory (written by the child only)."""

    version: Any  # multiprocessing Array of c_char: the challenger version being scored, "" when none
    error: Any  # Array of c_char: the last load error, "" when none
    scored: Any  # Value of c_longlong: rows scored and logged, ever
    dropped: Any  # Value of c_longlong: rows skipped (too far behind, or the challenger failed on them)

    @classmethod
    def create(cls, ctx: Any) -> ShadowStatus:
        return cls(
            ctx.Array(ctypes.c_char, _TEXT, lock=False),
            ctx.Array(ctypes.c_char, _TEXT, lock=False),
            ctx.Value(ctypes.c_longlong, 0, lock=False),
            ctx.Value(ctypes.c_longlong, 0, lock=False),
        )

    @staticmethod
    def _set(array: Any, text: str) -> None:
        array.value = text.encode("utf-8", "replace")[: _TEXT - 1]


class ShadowWorker:
    """The child's work: follow the alias, score new champion rows of the log, write shadow rows."""

    def __init__(
        self,
        settings: Settings,
        status: ShadowStatus,
        *,
        batch_rows: int = 2048,  # one model call per batch: the per-call overhead (~4 ms) is paid rarely
        interval_s: float = 0.5,  # the log itself is written every 0.5 s
        capacity_rows: int = 50_000,
    ) -> None:
        from driftgate.spec import load_spec
        from driftgate.tracking import configure_mlflow

        self.settings, self.status = settings, status
        self.batch_rows, self.interval_s, self.capacity_rows = batch_rows, interval_s, capacity_rows
        self.spec = load_spec(settings.dataset, settings.datasets_dir)
        self.name = settings.model_name or self.spec.model_name
        self.client: MlflowClient = configure_mlflow(settings)
        self.engine = connect(settings.resolved_predictions_db_url())
        self.current: ServedModel | None = None
        self.after_id = newest_prediction_id(self.engine)  # rows logged from now on (and during the load)

    def refresh(self) -> bool:
        """Load the version ``challenger`` points to if it moved; False when there is no challenger."""
        try:
            mv = self.client.get_model_version_by_alias(self.name, CHALLENGER)
        except MlflowException:  # the alias is gone: nothing to shadow
            return False
        if self.current is not None and self.current.version == str(mv.version):
            return True
        try:
            self.current = load_served(self.client, self.spec, self.name, str(mv.version), self.settings.max_records)
        except Exception as exc:  # a broken challenger never touches the champion's answers
            self.current = None
            ShadowStatus._set(self.status.error, f"challenger version {mv.version} failed to load: {exc}")
            ShadowStatus._set(self.status.version, "")
            log.warning("shadow: challenger version %s failed to load: %s", mv.version, exc)
            return True
        ShadowStatus._set(self.status.error, "")
        ShadowStatus._set(self.status.version, self.current.version)
        log.info("shadow scoring with %s version %s", self.name, self.current.version)
        return True

    def skip_if_behind(self) -> None:
        """More than ``capacity_rows`` behind the log: jump ahead, counting the rows skipped as dropped."""
        newest = newest_prediction_id(self.engine)
        if newest - self.after_id <= self.capacity_rows:
            return
        to = newest - self.capacity_rows // 2
        skipped = count_champion_rows(self.engine, self.after_id, to)
        log.warning("shadow: %d rows behind the log; skipping %d champion rows", newest - self.after_id, skipped)
        self.status.dropped.value += skipped
        self.after_id = to

    def step(self) -> int:
        """Score the next batch of new champion rows; the rows read (0: caught up)."""
        model = self.current
        if model is None:
            return 0
        rows = champion_rows_after(self.engine, self.after_id, self.batch_rows, except_version=model.version)
        if not rows:
            return 0
        self.after_id = rows[-1][0]
        records = msgspec.json.decode(b"[" + ",".join(r[2] for r in rows).encode() + b"]")
        # as the champion's contract decoded them: a null (or absent) value is a missing one
        columns = {c: [math.nan if (v := rec.get(c)) is None else v for rec in records] for c in model.contract.names}
        started = time.perf_counter()
        try:  # the champion's contract already checked these rows; the challenger's may differ
            preds, probs = model.predict(model.contract.frame(columns))
        except Exception as exc:  # count and go on: the next rows may be fine
            log.warning("shadow scoring with version %s failed for %d rows: %s", model.version, len(rows), exc)
            self.status.dropped.value += len(rows)
            return len(rows)
        latency_ms = (time.perf_counter() - started) * 1000
        outputs = probs if probs is not None else preds
        ts = datetime.now(UTC).isoformat()
        encode = msgspec.json.encode
        params = [
            (ts, model.name, model.version, latency_ms, "{}", encode(out).decode(), pid, SHADOW_ROLE)
            for (_, pid, _), out in zip(rows, outputs, strict=True)
        ]  # the inputs are the champion row's of the same id: not stored twice
        insert_prediction_rows(self.engine, params)
        self.status.scored.value += len(rows)
        return len(rows)

    def run(self, poll_seconds: float) -> None:
        """Until the service or the alias is gone: poll the alias, score what the log gained."""
        parent = multiprocessing.parent_process()
        next_poll = 0.0
        while parent is None or parent.is_alive():
            if time.monotonic() >= next_poll:
                if not self.refresh():
                    log.info("shadow: no challenger alias any more; the shadow process ends")
                    return
                next_poll = time.monotonic() + poll_seconds
            try:
                self.skip_if_behind()
                if self.step() < self.batch_rows:  # caught up: wait for the log to grow
                    time.sleep(self.interval_s)
            except Exception:  # a database hiccup: try again on the next round
                log.exception("shadow scoring failed")
                time.sleep(self.interval_s)


def shadow_main(settings: Settings, status: ShadowStatus, poll_seconds: float) -> None:
    """The shadow process's entry point (spawned by the service)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s[shadow]: %(message)s")
    for noisy in ("mlflow", "urllib3", "alembic", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C in the service's terminal reaches its group
        ShadowWorker(settings, status).run(poll_seconds)


class ShadowProcess:
    """The service's side: starts the shadow process while a challenger exists, publishes its counts."""

    def __init__(self, settings: Settings, client: MlflowClient, name: str, telemetry: Telemetry) -> None:
        self.settings, self.client, self.name, self.telemetry = settings, client, name, telemetry
        self._ctx = multiprocessing.get_context("spawn")  # never fork a process that runs threads
        self.status = ShadowStatus.create(self._ctx)
        self.process: multiprocessing.process.BaseProcess | None = None
        self._published = (0, 0)

    @property
    def version(self) -> str | None:
        """The challenger version the shadow process scores with (None: none loaded)."""
        alive = self.process is not None and self.process.is_alive()
        return (self.status.version.value.decode() or None) if alive else None

    @property
    def last_error(self) -> str | None:
        return self.status.error.value.decode() or None

    def _challenger_exists(self) -> bool:
        try:
            self.client.get_model_version_by_alias(self.name, CHALLENGER)
        except MlflowException:
            return False
        return True

    def check(self) -> None:
        """Start the process when a challenger exists and it is not running (called every poll)."""
        if self.process is not None and self.process.is_alive():
            return
        if self.process is not None and self.process.exitcode not in (0, None):
            log.warning("shadow process ended with exit code %s", self.process.exitcode)
        if not self._challenger_exists():
            return
        ShadowStatus._set(self.status.version, "")
        self.process = self._ctx.Process(
            target=shadow_main,
            args=(self.settings, self.status, max(self.settings.poll_seconds, 1.0)),
            name="driftgate-shadow",
            daemon=True,
        )
        self.process.start()
        log.info("shadow process started (pid %s) for the challenger of %s", self.process.pid, self.name)

    def publish(self) -> None:
        """Add the process's new counts to the service's Prometheus counters."""
        scored, dropped = int(self.status.scored.value), int(self.status.dropped.value)
        before_scored, before_dropped = self._published
        if scored > before_scored:
            self.telemetry.shadow_predictions.labels(self.version or "").inc(scored - before_scored)
        if dropped > before_dropped:
            self.telemetry.shadow_dropped.inc(dropped - before_dropped)
        self._published = (scored, dropped)

    def stop(self, timeout: float = 5.0) -> None:
        if self.process is None or not self.process.is_alive():
            return
        self.process.terminate()
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout)

    async def run(self, poll_seconds: float) -> None:
        """Check and publish every ``poll_seconds`` (cancelled by the app's shutdown)."""
        while True:
            try:
                await asyncio.to_thread(self.check)
                self.publish()
            except Exception:  # the loop must survive a registry outage
                log.exception("shadow check failed")
            await asyncio.sleep(poll_seconds)


def shadow_lifespan(shadow: ShadowProcess | None, poll_seconds: float) -> list[Any]:
    """The app lifespan that runs ``shadow`` (nothing when shadow scoring is off)."""
    if shadow is None:
        return []

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        task = asyncio.create_task(shadow.run(poll_seconds), name="driftgate-shadow")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.to_thread(shadow.stop)
            shadow.publish()

    return [lifespan]
