"""Shadow scoring: the ``challenger`` alias scores live requests off the request path.

A request only appends its decoded columns to a bounded queue (never waits, never fails); every
``interval_s`` a task on the event loop takes what has queued and scores it in batched model calls
of at most ``batch_rows`` rows (a batch costs ~10 µs a row against ~3 ms for one row), then logs
the challenger's predictions with the champion's prediction ids and ``role = "shadow"``, so the
monitor can compare both models on the same live rows once their labels arrive. The challenger is
never part of an answer.

Why on the loop and not in a thread: a thread scoring in the background takes the GIL from the
event loop in slices of up to the switch interval (5 ms) every time the loop releases it, and
bench/serve.py measured ~20 % of the service's throughput lost that way; on the loop the same
work costs only itself (~10 ms every ``interval_s`` at 2,000 req/s), and the loop stays fair.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from driftgate.predictions_db import SHADOW_ROLE
from driftgate.registry import CHALLENGER
from driftgate.serving.model_store import ServedModel, load_served, poll_forever
from driftgate.serving.prediction_log import PredictionLog
from driftgate.serving.telemetry import Telemetry
from driftgate.spec import DatasetSpec

log = logging.getLogger(__name__)

_Item = tuple[dict[str, list[Any]], list[str]]  # a request's columns and prediction ids


class ShadowScorer:
    """Follows the ``challenger`` alias and scores queued requests with it, in batches, on the event loop."""

    def __init__(
        self,
        client: MlflowClient,
        spec: DatasetSpec,
        name: str,
        max_records: int,
        predlog: PredictionLog,
        telemetry: Telemetry,
        *,
        capacity_rows: int = 50_000,
        batch_rows: int = 1024,  # one call blocks the loop ~10 ms: bounded so p99 barely moves
        interval_s: float = 0.5,  # fewer, larger calls: the per-call overhead (~3 ms) is paid rarely
    ) -> None:
        self.client, self.spec, self.name, self.max_records = client, spec, name, max_records
        self.predlog, self.telemetry = predlog, telemetry
        self.capacity_rows, self.batch_rows, self.interval_s = capacity_rows, batch_rows, interval_s
        self.current: ServedModel | None = None
        self.last_error: str | None = None
        self._queue: collections.deque[_Item] = collections.deque()
        self._queued_rows = 0  # only the event loop touches the queue: no lock

    # --- request path: O(1), never raises ----------------------------------------------------
    def submit(self, champion_version: str, columns: dict[str, list[Any]], ids: list[str]) -> None:
        """Queue one answered request for the challenger (skipped when there is none or it is the champion)."""
        model = self.current
        if model is None or not ids or model.version == champion_version:
            return
        if self._queued_rows + len(ids) > self.capacity_rows:
            self.telemetry.shadow_dropped.inc(len(ids))
            return
        self._queued_rows += len(ids)
        self._queue.append((columns, ids))  # not the records: fewer live objects for the GC to scan

    # --- following the alias ------------------------------------------------------------------
    def refresh(self) -> bool:
        """Load the version ``challenger`` points to if it moved; True when a new one was loaded."""
        try:
            mv = self.client.get_model_version_by_alias(self.name, CHALLENGER)
        except MlflowException:  # no challenger (or no model yet): nothing to shadow
            self.current = None
            return False
        if self.current is not None and self.current.version == str(mv.version):
            return False
        try:
            self.current = load_served(self.client, self.spec, self.name, str(mv.version), self.max_records)
        except Exception as exc:  # a broken challenger never touches the champion's answers
            self.last_error = f"challenger version {mv.version} failed to load: {exc}"
            log.warning("shadow: %s", self.last_error)
            self.current = None
            return False
        self.last_error = None
        gc.collect()  # as for the champion (model_store.py): the load's garbage goes now, and the
        gc.freeze()  # challenger's objects leave the GC's scans
        log.info("shadow scoring with %s version %s", self.name, mv.version)
        return True

    async def run(self, poll_seconds: float) -> None:
        """Poll the alias forever (cancelled by the app's shutdown)."""
        await poll_forever(self.refresh, max(poll_seconds, 1.0), "shadow")

    # --- scoring, on the event loop -----------------------------------------------------------
    def _take(self) -> list[_Item]:
        items: list[_Item] = []
        rows = 0
        while self._queue and rows < self.batch_rows:
            item = self._queue.popleft()
            items.append(item)
            rows += len(item[1])
        self._queued_rows -= rows
        return items

    def score(self, items: list[_Item]) -> int:
        """Score queued requests with the challenger in one call and log them; the rows logged."""
        model = self.current
        if model is None or not items:
            return 0
        merged: dict[str, list[Any]] = {k: [] for k in items[0][0]}
        ids: list[str] = []
        for columns, item_ids in items:
            for k, v in columns.items():
                merged[k].extend(v)
            ids.extend(item_ids)
        started = time.perf_counter()
        try:
            preds, probs = model.predict(model.contract.frame(merged))
        except Exception as exc:  # the challenger wants other columns, or fails: count and go on
            log.warning("shadow scoring with version %s failed for %d rows: %s", model.version, len(ids), exc)
            self.telemetry.shadow_dropped.inc(len(ids))
            return 0
        latency_ms = (time.perf_counter() - started) * 1000
        outputs = probs if probs is not None else preds
        # the inputs are the champion's row of the same id: not stored twice
        self.predlog.append(model.name, model.version, latency_ms, [{}] * len(ids), outputs, ids, role=SHADOW_ROLE)
        self.telemetry.shadow_predictions.labels(model.version).inc(len(ids))
        return len(ids)

    async def score_queued(self) -> None:
        """Every ``interval_s``, score what has queued (cancelled by the app's shutdown)."""
        while True:
            await asyncio.sleep(self.interval_s)
            while self._queue:
                try:
                    self.score(self._take())
                except Exception:  # the scoring task must survive anything a batch does
                    log.exception("shadow scoring failed")
                await asyncio.sleep(0)  # requests that arrived meanwhile go first


def shadow_lifespan(scorer: ShadowScorer | None, poll_seconds: float) -> list[Any]:
    """The app lifespan that runs ``scorer`` (nothing when shadow scoring is off)."""
    if scorer is None:
        return []

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(scorer.run(poll_seconds), name="driftgate-shadow-poll"),
            asyncio.create_task(scorer.score_queued(), name="driftgate-shadow-score"),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return [lifespan]
