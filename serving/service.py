"""The service's state: what the route handlers share, built and torn down by the app's lifespan.

:func:`service_lifespan` builds one :class:`Service` when the app starts (the model store and its
poller, the micro-batcher, the prediction log, the console's readers, the shadow supervisor),
puts it on ``app.state.service`` and stops everything in reverse order when the app stops.
Handlers get it from :func:`service_of`: most through ``Provide`` (the ``svc`` dependency),
the prediction routes by calling it directly (a dependency costs ~10 µs per request there).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Request
from litestar.di import Provide
from litestar.params import SkipValidation
from threadpoolctl import threadpool_limits

from driftgate.dataset.spec import DatasetSpec
from driftgate.registry.tracking import configure_mlflow
from driftgate.serving.batcher import MicroBatcher
from driftgate.serving.console import Console
from driftgate.serving.errors import NoModelError
from driftgate.serving.explanations import Explainers
from driftgate.serving.feedback import FeedbackStore
from driftgate.serving.ids import IdLedger
from driftgate.serving.lake_reader import LakeReader
from driftgate.serving.limits import BoundedExecutor
from driftgate.serving.live_drift import publish_live_drift
from driftgate.serving.model_store import ModelStore, ServedModel
from driftgate.serving.prediction_log import PredictionLog
from driftgate.serving.shadow import ShadowProcess, shadow_running
from driftgate.serving.telemetry import telemetry
from driftgate.serving.versions import VersionViews
from driftgate.settings import Settings
from driftgate.stores.lake import Lake
from driftgate.stores.log_retention import LogRetention

log = logging.getLogger(__name__)


@dataclass
class Service:
    """What the handlers share: the settings, the model store, the request path's parts, the console's readers."""

    settings: Settings
    store: ModelStore
    batcher: MicroBatcher
    predlog: PredictionLog
    explainers: BoundedExecutor  # the threads explanations run on, a few at a time
    explaining: Explainers
    ids: IdLedger
    labels: FeedbackStore
    console: Console
    shadow: ShadowProcess | None = None

    def served(self) -> ServedModel:
        """The model answering now.

        Raises:
            NoModelError: none loaded yet (with the last load error, when there was one).
        """
        model = self.store.current
        if model is None:
            detail = f"no model to serve yet: model {self.store.name!r} has no 'champion' alias"
            if self.store.last_error:
                detail += f" that loads ({self.store.last_error})"
            raise NoModelError(detail)
        return model


def service_of(request: Request[Any, Any, Any]) -> Service:
    """The app's :class:`Service` (set by :func:`service_lifespan`)."""
    svc: Service = request.app.state.service
    return svc


SERVICE_DEPENDENCY = {"svc": Provide(service_of, sync_to_thread=False)}
"""The app's dependencies: ``svc``, the :class:`Service`, for any handler that names it."""

ServiceDep = SkipValidation[Service]  # handed over as it is: nothing to validate


def build_service(settings: Settings, spec: DatasetSpec) -> Service:
    """Every part of the service for ``settings``, none started yet."""
    client = configure_mlflow(settings)
    tel = telemetry()
    name = settings.model_name or spec.model_name
    store = ModelStore(client=client, spec=spec, name=name, max_records=settings.max_records, telemetry=tel)
    predlog = PredictionLog(
        settings.resolved_predictions_db_url(),
        tel,
        retention=LogRetention(settings.prediction_log_max_age_hours, settings.prediction_log_max_rows),
        prune_seconds=settings.prediction_log_prune_seconds,
        sample=settings.prediction_log_sample,
    )
    ids = IdLedger(predlog.logged_ids)
    predlog.on_done = ids.release  # an id written to the log is answered for by the log from then on
    shadow = None
    if settings.shadow and settings.prediction_log:  # the challenger scores the logged requests (serving/shadow/)
        shadow = ShadowProcess(settings, client, name, tel, champion=store.current_version)
    elif settings.shadow:
        log.warning("shadow scoring needs the prediction log (DRIFTGATE_PREDICTION_LOG=false): no shadow")
    lake = Lake(settings.resolved_lake_url(), settings.storage_options())
    return Service(
        settings=settings,
        store=store,
        batcher=MicroBatcher(tel, settings.batch_wait_ms / 1000, in_thread=settings.model_in_thread),
        predlog=predlog,
        explainers=BoundedExecutor(settings.explain_concurrency, "driftgate-explain"),
        explaining=Explainers(),
        ids=ids,
        labels=FeedbackStore(
            settings.resolved_predictions_db_url(),
            spec,
            model=name,
            window=settings.monitor_window,
            telemetry=tel,
        ),
        console=Console(reader=LakeReader(lake, spec.name), versions=VersionViews(store)),
        shadow=shadow,
    )


REGISTRY_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
"""MLflow's HTTP client settings while the service runs, unless the environment sets them itself."""


@contextlib.contextmanager
def registry_fails_fast() -> Iterator[None]:
    """One attempt per registry call while the service runs (the previous values restored after).

    MLflow's client retries a registry server that does not answer 7 times over about 4 minutes;
    the alias poll waited that long before ``/ready`` could say anything. The poll is itself the
    retry (every ``DRIFTGATE_POLL_SECONDS``), so each call now fails at once and is reported.
    """
    saved = {name: os.environ.get(name) for name in REGISTRY_HTTP}
    for name, value in REGISTRY_HTTP.items():
        os.environ.setdefault(name, value)
    try:
        yield
    finally:
        for name, before in saved.items():
            if before is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = before


def service_lifespan(settings: Settings, spec: DatasetSpec) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """The app's lifespan: build the :class:`Service`, run its background work, stop it in reverse order."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        with registry_fails_fast():
            async with _running(app, settings, spec):
                yield

    return lifespan


@contextlib.asynccontextmanager
async def _running(app: Litestar, settings: Settings, spec: DatasetSpec) -> AsyncIterator[None]:
    """The service's parts, started; stopped in reverse order."""
    svc = build_service(settings, spec)
    threadpool_limits(limits=1)  # one-row latency doubles with OpenMP threads fighting the event loop
    gc.freeze()  # the imported world (mlflow, pandas, sklearn) leaves the GC's scans: shorter pauses
    gc.set_threshold(10_000, 10, 10)  # young collections 14x rarer: ~3x less GC time (bench/serve.py)
    app.state.service = svc
    svc.batcher.start()
    svc.predlog.start()
    poller = asyncio.create_task(svc.store.run(settings.poll_seconds), name="driftgate-model-poll")
    drift = asyncio.create_task(
        publish_live_drift(svc.console.reader, telemetry().live_drift_share, svc.store.name),
        name="driftgate-live-drift",
    )
    try:
        async with contextlib.AsyncExitStack() as shadow:
            if svc.shadow is not None:
                await shadow.enter_async_context(shadow_running(svc.shadow, settings.poll_seconds))
            yield
    finally:
        for task in (poller, drift):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await svc.batcher.stop()
        await asyncio.to_thread(svc.predlog.stop)
        svc.explainers.close()
