"""The service's side of shadow scoring: start, stop and restart the shadow process, publish its counts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.process
import threading
import time
from collections.abc import AsyncIterator, Callable

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from driftgate.registry.client import challenger_version
from driftgate.serving.model_store import poll_forever
from driftgate.serving.shadow._status import ShadowStatus
from driftgate.serving.shadow._worker import shadow_main
from driftgate.serving.telemetry import Telemetry
from driftgate.settings import Settings

log = logging.getLogger(__name__)

RESTART_BACKOFF_S = 30.0  # a shadow process that died is started again after this long


class ShadowProcess:
    """Runs the shadow process while a challenger other than the champion exists.

    Args:
        settings: the service's settings (the process reads its own registry and database from them).
        client: the registry, to read the ``challenger`` alias.
        name: the registered model.
        telemetry: where the process's counts are published.
        champion: the version the service answers with now (None before the first load).
    """

    def __init__(
        self,
        settings: Settings,
        client: MlflowClient,
        name: str,
        telemetry: Telemetry,
        *,
        champion: Callable[[], str | None],
    ) -> None:
        self.settings, self.client, self.name, self.telemetry = settings, client, name, telemetry
        self.champion = champion
        self._ctx = multiprocessing.get_context("spawn")  # never fork a process that runs threads
        self.status = ShadowStatus.create(self._ctx)
        self.process: multiprocessing.process.BaseProcess | None = None
        self._published = (0, 0)
        self._compared = (0, 0)  # rows compared with the champion, and disagreements, already published
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
        return (self.status.read_version() or None) if self._alive() else None

    @property
    def last_error(self) -> str | None:
        return self.status.read_error() or None

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
                    RESTART_BACKOFF_S,
                )
                self._restart_at = time.monotonic() + RESTART_BACKOFF_S
                self.process = None
            seen, self._seen = self._seen, challenger
            if challenger is None or same or time.monotonic() < self._restart_at:
                return
            if challenger != seen:  # seen twice in a row first: the gate sets the alias just before it decides
                return
            self._start(challenger)

    def _start(self, challenger: str) -> None:
        self.status.set_version("")
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
        scored, dropped = self.status.counts()
        before_scored, before_dropped = self._published
        if scored > before_scored:
            self.telemetry.shadow_predictions.labels(self._last_version).inc(scored - before_scored)
        if dropped > before_dropped:
            self.telemetry.shadow_dropped.inc(dropped - before_dropped)
        self._published = (scored, dropped)
        compared, disagreed = self.status.agreement()
        before_compared, before_disagreed = self._compared
        if compared > before_compared:
            self.telemetry.shadow_compared.labels(self._last_version).inc(compared - before_compared)
        if disagreed > before_disagreed:
            self.telemetry.shadow_disagreements.labels(self._last_version).inc(disagreed - before_disagreed)
        self._compared = (compared, disagreed)

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


@contextlib.asynccontextmanager
async def shadow_running(shadow: ShadowProcess, poll_seconds: float) -> AsyncIterator[None]:
    """Follow the aliases every ``poll_seconds`` while the service runs; end the process with it."""
    task = asyncio.create_task(shadow.run(poll_seconds), name="driftgate-shadow")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.to_thread(shadow.stop)
        shadow.publish()
