"""Adaptive micro-batching: concurrent requests share one model call.

A one-row pipeline call costs ~3 ms, almost all fixed overhead; 256 rows cost ~14 µs each.
So requests are queued, and one worker takes everything queued (up to ``max_rows``) into a
single call, then hands each request its slice.

Where the call runs: on the event loop by default. The GIL makes a model thread contend with
the loop (each numpy release/re-acquire can wait a switch interval), and bench/serve.py measured
~2,400 req/s with the thread against ~3,100 inline; the loop is blocked for one batch call
(a few ms) at a time, while sockets keep filling the next batch. ``DRIFTGATE_MODEL_IN_THREAD=true``
moves the call to a dedicated thread. While a call runs,
the next batch builds up by itself; the worker waits up to ``max_wait_s`` for company only
when the previous batch showed there is concurrency, so a lone request is not delayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from driftgate.serving.model_store import ServedModel
from driftgate.serving.telemetry import Telemetry

log = logging.getLogger(__name__)

Result = tuple[list[Any], list[dict[str, float]] | None]


@dataclass
class _Job:
    served: ServedModel
    columns: dict[str, list[Any]]
    rows: int
    future: asyncio.Future[Result]


def _merge(jobs: list[_Job]) -> dict[str, list[Any]]:
    if len(jobs) == 1:
        return jobs[0].columns
    merged: dict[str, list[Any]] = {k: [] for k in jobs[0].columns}
    for job in jobs:
        for k, v in job.columns.items():
            merged[k].extend(v)
    return merged


def _run(served: ServedModel, jobs: list[_Job], telemetry: Telemetry) -> Result:
    started = time.perf_counter()
    try:
        return served.predict(served.contract.frame(_merge(jobs)))
    finally:
        telemetry.model_call.observe(time.perf_counter() - started)


class MicroBatcher:
    def __init__(
        self, telemetry: Telemetry, max_wait_s: float = 0.002, max_rows: int = 512, in_thread: bool = False
    ) -> None:
        self.max_wait_s = max_wait_s
        self.max_rows = max_rows
        self.telemetry = telemetry
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="driftgate-model") if in_thread else None
        self._worker: asyncio.Task[None] | None = None
        self._last_jobs = 1

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._loop(), name="driftgate-batcher")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def predict(self, served: ServedModel, columns: dict[str, list[Any]], rows: int) -> Result:
        """Predict ``rows`` records (as columns) with ``served``, batched with concurrent callers."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job(served, columns, rows, future))
        return await future

    async def _collect(self) -> list[_Job]:
        first = await self._queue.get()
        jobs, rows = [first], first.rows
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.max_wait_s if self._last_jobs > 1 else 0.0)
        while rows < self.max_rows:
            try:
                job = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            jobs.append(job)
            rows += job.rows
        self._last_jobs = len(jobs)
        return jobs

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._collect()
            groups: dict[int, list[_Job]] = {}
            for job in jobs:  # a swap mid-batch: each request keeps the model it started with
                groups.setdefault(id(job.served), []).append(job)
            for group in groups.values():
                served = group[0].served
                try:
                    if self._executor is None:
                        preds, probs = _run(served, group, self.telemetry)
                    else:
                        preds, probs = await loop.run_in_executor(self._executor, _run, served, group, self.telemetry)
                except Exception as exc:  # hand the failure to each waiting request
                    log.exception("model call failed for %d requests", len(group))
                    for job in group:
                        if not job.future.done():
                            job.future.set_exception(exc)
                    continue
                total = sum(j.rows for j in group)
                self.telemetry.model_batch.observe(total)
                self.telemetry.predictions.labels(served.name, served.version).inc(total)
                offset = 0
                for job in group:
                    end = offset + job.rows
                    if not job.future.done():
                        job.future.set_result((preds[offset:end], probs[offset:end] if probs is not None else None))
                    offset = end
