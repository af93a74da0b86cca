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

The service starts the process only while a ``challenger`` alias names a version other than the
one it serves (one registry call per poll; the same challenger seen on two polls in a row, as the
gate sets the alias just before it decides; 30 s after a crash); the process follows the alias
itself, exits when it is gone or when the service is, and
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
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from driftgate.predictions_db import (
    SHADOW_ROLE,
    champion_ids_after,
    champion_rows_with_ids,
    connect,
    count_champion_rows,
    insert_prediction_rows,
    newest_prediction_id,
)
from driftgate.registry import challenger_version
from driftgate.serving.model_store import ServedModel, load_served, poll_forever
from driftgate.serving.telemetry import Telemetry
from driftgate.settings import Settings

log = logging.getLogger(__name__)

_TEXT = 200  # bytes of a shared version or error string
_RETRY_FAILED_LOAD_S = 30.0  # as the champion's model store: a version that failed to load waits this long
_RESTART_BACKOFF_S = 30.0  # a shadow process that died is started again after this long


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
    def set_text(array: Any, text: str) -> None:
        cut = text.encode("utf-8", "replace")[: _TEXT - 1].decode("utf-8", "ignore")  # on a character boundary
        array.value = cut.encode("utf-8")

    @staticmethod
    def get_text(array: Any) -> str:
        return bytes(array.value).decode("utf-8", "replace")  # a read racing a write: never an exception


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
        commit_lag_s: float = 5.0,  # the log's transactions last milliseconds; a longer one is taken as lost
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
        # Row ids come from a sequence and can commit out of order (Postgres): a row may appear below
        # one already read. So the watermark trails by commit_lag_s; rows above it already handled
        # are remembered (row id -> when first seen) and passed over when read again.
        self.commit_lag_s = commit_lag_s
        self._seen: dict[int, float] = {}
        self._failed: str | None = None  # a version that failed to load, and when
        self._failed_at = 0.0
        self._insert_failures = 0

    def refresh(self) -> bool:
        """Load the version ``challenger`` points to if it moved; False only when the alias is gone.

        A registry that fails to answer keeps the current challenger (and the process) as they are.
        """
        try:
            version = challenger_version(self.client, self.name)
        except MlflowException as exc:
            log.warning(
                "shadow: the registry did not answer (%s); keeping version %s",
                exc,
                self.current.version if self.current else None,
            )
            return True
        if version is None:
            return False
        if self.current is not None and self.current.version == version:
            return True
        if self._failed == version and time.monotonic() - self._failed_at < _RETRY_FAILED_LOAD_S:
            return True
        try:
            self.current = load_served(self.client, self.spec, self.name, version, self.settings.max_records)
        except Exception as exc:  # a broken challenger never touches the champion's answers
            self.current, self._failed, self._failed_at = None, version, time.monotonic()
            ShadowStatus.set_text(self.status.error, f"challenger version {version} failed to load: {exc}")
            ShadowStatus.set_text(self.status.version, "")
            log.warning("shadow: challenger version %s failed to load: %s", version, exc)
            return True
        self._failed = None
        ShadowStatus.set_text(self.status.error, "")
        ShadowStatus.set_text(self.status.version, self.current.version)
        log.info("shadow scoring with %s version %s", self.name, self.current.version)
        return True

    def skip_if_behind(self) -> None:
        """More than ``capacity_rows`` behind the log: jump ahead, counting the rows skipped as dropped."""
        newest = newest_prediction_id(self.engine)
        if newest - self.after_id <= self.capacity_rows:
            return
        to = newest - self.capacity_rows // 2
        handled = sum(1 for i in self._seen if i <= to)
        skipped = count_champion_rows(self.engine, self.after_id, to) - handled
        log.warning("shadow: %d rows behind the log; skipping %d champion rows", newest - self.after_id, skipped)
        self.status.dropped.value += skipped
        self.after_id = to
        self._seen = {i: t for i, t in self._seen.items() if i > to}

    def _advance(self) -> None:
        """Move the watermark past the rows first seen more than ``commit_lag_s`` ago.

        A row below one of them that is still not visible belongs to a transaction that took longer
        than the lag; it is taken as lost (the log writes its rows in transactions of milliseconds).
        """
        cutoff = time.monotonic() - self.commit_lag_s
        old = [i for i, seen in self._seen.items() if seen <= cutoff]
        if old:
            top = max(old)
            self.after_id = max(self.after_id, top)
            self._seen = {i: t for i, t in self._seen.items() if i > top}

    def _handled(self, ids: list[int]) -> None:
        now = time.monotonic()
        for i in ids:
            self._seen.setdefault(i, now)

    def step(self) -> int:
        """Score the next batch of new champion rows; the rows read (0: caught up).

        Rows the challenger's own version answered (it may also be the champion) are passed over.
        A batch counts as handled only once it is written; a batch that fails to be written three
        times running is counted as dropped and passed over. Rows that commit out of order (a
        lower id visible after a higher one) are still read, within ``commit_lag_s``.
        """
        model = self.current
        if model is None:
            return 0
        self._advance()
        ids = champion_ids_after(self.engine, self.after_id, self.batch_rows + len(self._seen))
        new = [i for i in ids if i not in self._seen][: self.batch_rows]
        if not new:
            return 0
        rows = champion_rows_with_ids(self.engine, new)
        to_score = [r for r in rows if r[3] != model.version]
        if not to_score:
            self._handled(new)
            return len(rows)
        records = msgspec.json.decode(b"[" + ",".join(r[2] for r in to_score).encode() + b"]")
        # as the champion's contract decoded them: a null (or absent) value is a missing one
        columns = {c: [math.nan if (v := rec.get(c)) is None else v for rec in records] for c in model.contract.names}
        started = time.perf_counter()
        try:  # the champion's contract already checked these rows; the challenger's may differ
            preds, probs = model.predict(model.contract.frame(columns))
        except Exception as exc:  # count and go on: the next rows may be fine
            log.warning("shadow scoring with version %s failed for %d rows: %s", model.version, len(to_score), exc)
            self.status.dropped.value += len(to_score)
            self._handled(new)
            return len(rows)
        latency_ms = (time.perf_counter() - started) * 1000
        outputs = probs if probs is not None else preds
        ts = datetime.now(UTC).isoformat()
        encode = msgspec.json.encode
        params = [
            (ts, model.name, model.version, latency_ms, "{}", encode(out).decode(), pid, SHADOW_ROLE)
            for (_, pid, _, _), out in zip(to_score, outputs, strict=True)
        ]  # the inputs are the champion row's of the same id: not stored twice
        try:
            insert_prediction_rows(self.engine, params)
        except Exception:
            self._insert_failures += 1
            if self._insert_failures < 3:
                raise  # the same rows again on the next round
            log.exception("shadow: %d rows could not be written three times running; counted dropped", len(to_score))
            self.status.dropped.value += len(to_score)
        else:
            self.status.scored.value += len(to_score)
        self._insert_failures = 0
        self._handled(new)
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
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)  # numpy is already loaded (unpickling the settings): limit its pools now
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s[shadow]: %(message)s")
    for noisy in ("mlflow", "urllib3", "alembic", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C in the service's terminal reaches its group
        ShadowWorker(settings, status).run(poll_seconds)


class ShadowProcess:
    """The service's side: runs the shadow process while a challenger other than the champion exists.

    Args:
        champion: the version the service answers with now (None before the first load).
    """

    def __init__(
        self,
        settings: Settings,
        client: MlflowClient,
        name: str,
        telemetry: Telemetry,
        champion: Callable[[], str | None],
    ) -> None:
        self.settings, self.client, self.name, self.telemetry = settings, client, name, telemetry
        self.champion = champion
        self._ctx = multiprocessing.get_context("spawn")  # never fork a process that runs threads
        self.status = ShadowStatus.create(self._ctx)
        self.process: multiprocessing.process.BaseProcess | None = None
        self._published = (0, 0)
        self._last_version = ""  # the version counts are published under once the process is gone
        self._lock = threading.Lock()  # check() (a worker thread) and stop() never interleave
        self._stopping = False
        self._restart_at = 0.0
        self._seen: str | None = None  # the challenger the previous check saw

    def _alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    @property
    def version(self) -> str | None:
        """The challenger version the shadow process scores with (None: none loaded)."""
        return (ShadowStatus.get_text(self.status.version) or None) if self._alive() else None

    @property
    def last_error(self) -> str | None:
        return ShadowStatus.get_text(self.status.error) or None

    def check(self) -> None:
        """Start or stop the process as the aliases say (called every poll, off the event loop)."""
        with self._lock:
            if self._stopping:
                return
            try:
                challenger = challenger_version(self.client, self.name)
            except MlflowException as exc:  # the registry did not answer: leave things as they are
                log.warning("shadow: the registry did not answer (%s)", exc)
                return
            champion = self.champion()
            if champion is None:  # the service has no champion loaded yet: nothing to compare with
                return
            same = challenger == champion
            if self._alive():
                if same:  # promoted: nothing to compare any more
                    log.info("shadow: version %s is the champion now; the shadow process ends", challenger)
                    self._stop_process()
                    self.process = None  # ended on purpose, not a crash to back off from
                return
            if self.process is not None and self.process.exitcode not in (0, None):
                log.warning(
                    "shadow process ended with exit code %s; starting it again in %.0f s",
                    self.process.exitcode,
                    _RESTART_BACKOFF_S,
                )
                self._restart_at = time.monotonic() + _RESTART_BACKOFF_S
                self.process = None
            seen, self._seen = self._seen, challenger
            if challenger is None or same or time.monotonic() < self._restart_at:
                return
            if challenger != seen:  # seen twice in a row first: the gate sets the alias just before it decides
                return
            ShadowStatus.set_text(self.status.version, "")
            self.process = self._ctx.Process(
                target=shadow_main,
                args=(self.settings, self.status, max(self.settings.poll_seconds, 1.0)),
                name="driftgate-shadow",
                daemon=True,
            )
            self.process.start()
            log.info("shadow process started (pid %s) for %s version %s", self.process.pid, self.name, challenger)

    def publish(self) -> None:
        """Add the process's new counts to the service's Prometheus counters."""
        self._last_version = self.version or self._last_version
        scored, dropped = int(self.status.scored.value), int(self.status.dropped.value)
        before_scored, before_dropped = self._published
        if scored > before_scored:
            self.telemetry.shadow_predictions.labels(self._last_version).inc(scored - before_scored)
        if dropped > before_dropped:
            self.telemetry.shadow_dropped.inc(dropped - before_dropped)
        self._published = (scored, dropped)

    def _stop_process(self, timeout: float = 5.0) -> None:
        if self.process is None or not self.process.is_alive():
            return
        self.publish()  # under the version it scored with
        self.process.terminate()
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """End the process for good (the service is shutting down)."""
        with self._lock:
            self._stopping = True
            self._stop_process(timeout)

    def tick(self) -> None:
        """One poll: start or stop the process, publish its counts."""
        self.check()
        self.publish()

    async def run(self, poll_seconds: float) -> None:
        """Poll every ``poll_seconds`` (cancelled by the app's shutdown)."""
        await poll_forever(self.tick, poll_seconds, "shadow")


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
