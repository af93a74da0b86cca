"""The served model and the loop that follows the ``champion`` alias.

Loading happens off the request path (in a worker thread) through the core's safe loader
(skops with driftgate's trusted types, signature and a prediction checked), then one reference
is swapped. Requests
hold the ``ServedModel`` they started with, so a swap never changes a request half-way.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from mlflow.tracking import MlflowClient

from driftgate.dataset.spec import DatasetSpec
from driftgate.errors import ModelLoadError
from driftgate.models.contract import InputContract
from driftgate.models.model_loader import load_registered
from driftgate.models.predict import predict
from driftgate.registry.client import CHAMPION, champion_version
from driftgate.serving.telemetry import Telemetry

log = logging.getLogger(__name__)

RETRY_FAILED_LOAD_S = 30.0  # a version that failed to load is tried again after this long, not on every poll


async def poll_forever(refresh: Callable[[], object], seconds: float, what: str) -> None:
    """Call ``refresh`` off the event loop every ``seconds``, surviving any failure (cancel to stop)."""
    while True:
        try:
            await asyncio.to_thread(refresh)
        except Exception:  # the loop itself must survive anything
            log.exception("%s poll failed", what)
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class ServedModel:
    """One loaded model version, immutable once built."""

    name: str
    version: str
    run_id: str | None
    model: Any
    contract: InputContract
    task: str
    classes: list[str]
    metrics: dict[str, float]
    loaded_at: str
    input_example: pd.DataFrame | None = None

    def predict(self, X: pd.DataFrame) -> tuple[list[Any], list[dict[str, float]] | None]:
        """Predictions (and class probabilities for classifiers) for a frame."""
        out = predict(self.model, self.task, X)
        return out.labels(), out.probability_dicts()

    def example_frame(self) -> pd.DataFrame:
        """The stored input example (real training rows: internal use only), else one record from the spec."""
        if self.input_example is None:
            return self.contract.frame({k: [v] for k, v in self.contract.example().items()})
        return self.contract.frame({c: list(self.input_example[c]) for c in self.contract.names})

    def describe(self) -> dict[str, Any]:
        """What /model publishes: never the stored example (real rows), only a synthetic one from the spec."""
        return {
            "name": self.name,
            "version": self.version,
            "alias": CHAMPION,
            "run_id": self.run_id,
            "task": self.task,
            "classes": self.classes or None,
            "metrics": self.metrics,
            "loaded_at": self.loaded_at,
            "input_schema": self.contract.json_schema(),
            "input_example": [self.contract.example()],
        }


def load_served(client: MlflowClient, spec: DatasetSpec, *, name: str, version: str, max_records: int) -> ServedModel:
    """Load a registered version through the safe loader (which proves it predicts).

    Raises:
        ModelLoadError: the loader refused it or the registry could not say what it is; the message
            carries no path or host (it is shown on /ready and /model).
    """
    try:
        mv = client.get_model_version(name, version)
        metrics = dict(client.get_run(mv.run_id).data.metrics) if mv.run_id else {}
    except Exception as exc:  # the detail may name hosts: log it, publish a plain reason
        log.warning("registry lookup of %s version %s failed: %s", name, version, exc)
        raise ModelLoadError(f"model {name!r} version {version} failed to load: the registry did not answer") from exc
    loaded = load_registered(name, version, spec)
    contract = InputContract.from_spec(spec, max_records, loaded.columns)
    classes = [str(c) for c in getattr(loaded.model, "classes_", [])] if spec.task == "classification" else []
    return ServedModel(
        name=name,
        version=str(version),
        run_id=mv.run_id,
        model=loaded.model,
        contract=contract,
        task=spec.task,
        classes=classes,
        metrics=metrics,
        loaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        input_example=loaded.input_example,
    )


@dataclass
class ModelStore:
    """Holds the served model; ``refresh`` follows the alias, ``run`` polls it."""

    client: MlflowClient
    spec: DatasetSpec
    name: str
    max_records: int
    telemetry: Telemetry
    current: ServedModel | None = None
    last_error: str | None = None
    last_check: str | None = None
    _failed_version: str | None = None
    _failed_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def current_version(self) -> str | None:
        """The version being served (None before the first load)."""
        return self.current.version if self.current else None

    def refresh(self, force: bool = False) -> bool:
        """Load the champion if it moved (or ``force``). True when a new model was swapped in."""
        with self._lock:  # one load at a time (poll loop and /admin/reload)
            self.last_check = datetime.now(UTC).isoformat(timespec="seconds")
            try:
                mv = champion_version(self.client, self.name)
            except Exception as exc:  # registry unreachable: keep serving (the detail may name hosts: log only)
                log.warning("reading the %s alias failed: %s", CHAMPION, exc)
                self._failed(f"cannot read the {CHAMPION} alias of {self.name!r}: the registry did not answer")
                return False
            if mv is None:
                return False
            if not force and self.current is not None and self.current.version == str(mv.version):
                if self.last_error is not None:  # the registry answers again, and names the model serving
                    log.info("the %s alias reads again: version %s, serving it", CHAMPION, mv.version)
                    self.last_error = None
                return False
            recently_failed = (
                self._failed_version == str(mv.version) and time.monotonic() - self._failed_at < RETRY_FAILED_LOAD_S
            )
            if not force and self.last_error and recently_failed:  # do not hammer a broken version
                return False
            started = time.perf_counter()
            try:
                served = load_served(
                    self.client, self.spec, name=self.name, version=str(mv.version), max_records=self.max_records
                )
            except ModelLoadError as exc:  # refused or broken: never take the service down
                self._failed(f"version {mv.version} failed to load: {exc}", str(mv.version))
                return False
            except Exception as exc:  # anything else: same, but its text may hold paths, so only log it
                log.warning("loading version %s raised %r", mv.version, exc)
                self._failed(f"version {mv.version} failed to load: unexpected {type(exc).__name__}", str(mv.version))
                return False
            previous = self.current.version if self.current else None
            self.current = served
            self.last_error = None
            gc.collect()  # the load's garbage goes now, the model's objects leave the GC's scans:
            gc.freeze()  # full collections over them stalled every in-flight request by 50-100 ms
            self.telemetry.reloaded(served.name, served.version, time.perf_counter() - started)
            log.info("serving %s version %s (was %s)", served.name, served.version, previous)
            return True

    def _failed(self, message: str, version: str | None = None) -> None:
        self.last_error = message
        self._failed_version, self._failed_at = version, time.monotonic()
        self.telemetry.reload_failed()
        log.warning("model reload failed: %s", message)

    async def run(self, poll_seconds: float) -> None:
        """Poll the alias forever (cancelled by the app's shutdown)."""
        await poll_forever(self.refresh, poll_seconds, "model")
