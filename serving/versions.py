"""What the console shows of registered versions, read from the registry and cached.

A version's run, explanation and gate never change once written, so a fully explained version is
read once; the list of versions and the champion alias move, so they are re-read every few seconds.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import mlflow
from mlflow.exceptions import MlflowException

from driftgate.errors import ModelRegistryError
from driftgate.names import FIT_TAG, PROBATION_RUN_TAG
from driftgate.pages.render import png_data_uri
from driftgate.registry.client import CHAMPION, champion_version, lineage
from driftgate.serving.ttl_cache import TtlCache

log = logging.getLogger(__name__)
T = TypeVar("T")
GATE_METRICS = ("gate_diff", "gate_ci_low", "gate_ci_high", "gate_rows")
REFUSED_TAG = "driftgate.refused"  # set on the run of a version the safe loader refused (tasks/gate)


class VersionViews:
    """Dicts ready for the templates: the champion, every version, one version in full."""

    def __init__(self, store: Any, ttl: float = 3.0) -> None:
        self.store = store
        self.ttl = ttl
        self._lock = threading.Lock()
        self._moving = TtlCache(ttl)  # what moves (the alias, the index); settled versions stay below
        self._settled: dict[str, dict[str, Any]] = {}
        self._explained_runs: set[str] = set()

    def _cached(self, key: str, load: Callable[[], T]) -> T:
        return self._moving.get(key, load)

    @property
    def metric(self) -> str:
        return f"test_{self.store.spec.metric.name}"

    @property
    def next_batch_metric(self) -> str:
        return f"next_batch_{self.store.spec.metric.name}"

    def next_batches(self, run_id: str | None) -> list[tuple[int, float]]:
        """``(batch, score)`` of each batch the version was scored on before anything trained on it."""
        if not run_id:
            return []
        try:
            history = self.store.client.get_metric_history(run_id, self.next_batch_metric)
        except MlflowException:
            return []
        return sorted((int(m.step), float(m.value)) for m in history)

    def champion(self) -> dict[str, Any] | None:
        """The champion's summary (None before the first promotion)."""

        def load() -> dict[str, Any] | None:
            mv = champion_version(self.store.client, self.store.name)
            return self.summary(mv) if mv is not None else None

        return self._cached("champion", load)

    def index(self) -> list[dict[str, Any]]:
        """Every version, newest first, the champion marked."""

        def load() -> list[dict[str, Any]]:
            try:
                found = self.store.client.search_model_versions(f"name = '{self.store.name}'")
            except MlflowException:
                return []
            champ = champion_version(self.store.client, self.store.name)
            rows = [self.summary(mv) for mv in sorted(found, key=lambda v: -int(v.version))]
            for row in rows:
                row["champion"] = champ is not None and str(champ.version) == row["version"]
            return rows

        return self._cached("index", load)

    def summary(self, mv: Any) -> dict[str, Any]:
        """Run metrics, trigger and gate of a version (tag and metric names: see tasks/gate.py)."""
        run = self.store.client.get_run(mv.run_id) if mv.run_id else None
        metrics = dict(run.data.metrics) if run else {}
        tags = dict(run.data.tags) if run else {}
        params = dict(run.data.params) if run else {}
        gate = {k.removeprefix("driftgate.gate."): v for k, v in tags.items() if k.startswith("driftgate.gate.")}
        gate.update({k.removeprefix("gate_"): metrics[k] for k in GATE_METRICS if k in metrics})
        probation = {k.removeprefix(PROBATION_RUN_TAG): v for k, v in tags.items() if k.startswith(PROBATION_RUN_TAG)}
        return {
            "version": str(mv.version),
            "run_id": mv.run_id,
            "description": mv.description or "",
            "created": time.strftime("%Y-%m-%d %H:%M", time.gmtime((mv.creation_timestamp or 0) / 1000)),
            "trigger": tags.get("driftgate.trigger", ""),
            "metric": metrics.get(self.metric),
            "next_batch": metrics.get(self.next_batch_metric),  # the newest batch it served
            "fit": tags.get(FIT_TAG, ""),
            "test_metrics": {k: v for k, v in sorted(metrics.items()) if k.startswith("test_")},
            "gate": gate,
            "probation": probation,  # the monitor's verdict once a probation against another version ended
            "family": params.get("family"),
            "window": params.get("window"),
            "champion": CHAMPION in (getattr(mv, "aliases", None) or []),
            "refused": tags.get(REFUSED_TAG) or self._load_error(str(mv.version)),
            "explained": self._explained(mv.run_id),
        }

    def _load_error(self, version: str) -> str | None:
        """The service's own refusal of this version (its last reload error), if it is the one that failed."""
        error = getattr(self.store, "last_error", None) or ""
        return error if error.startswith(f"version {version} failed to load") else None

    def _explained(self, run_id: str | None) -> bool:
        """Whether the run logged an explanation (a yes is settled; a no is asked again: it may come later)."""
        if not run_id:
            return False
        with self._lock:
            if run_id in self._explained_runs:
                return True
        try:
            listed = self.store.client.list_artifacts(run_id, "explanations")
            found = any(a.path.endswith("importance.json") for a in listed)
        except (MlflowException, OSError):
            return False
        if found:
            with self._lock:
                self._explained_runs.add(run_id)
        return found

    def version(self, version: str) -> dict[str, Any] | None:
        """One version in full: summary, importance, plots, slices, lineage (None if unknown)."""
        if not version.isdigit():
            return None
        with self._lock:
            settled = self._settled.get(version)
        if settled is not None:  # settled but for the batches it is scored on since
            return settled | {"next_batches": self.next_batches(settled["run_id"])}
        try:
            mv = self.store.client.get_model_version(self.store.name, version)
        except MlflowException:
            return None
        view = self.summary(mv)
        view["importance"], view["images"] = self._explanation(mv.run_id)
        view["slices"] = self._slices(mv.run_id)
        view["next_batches"] = self.next_batches(mv.run_id)
        try:
            view["lineage"], view["lineage_error"] = [b.__dict__ for b in lineage(self.store.client, mv)], None
        except ModelRegistryError as exc:  # a tag is input too: shown as unreadable, never a 500
            log.warning("version %s: %s", version, exc)
            view["lineage"], view["lineage_error"] = [], str(exc)
        if view["importance"] is not None:
            settled = view | {"champion": None}  # the alias moves: callers ask index() for it
            with self._lock:
                self._settled[version] = settled
        return view

    def _explanation(self, run_id: str | None) -> tuple[dict[str, float] | None, list[tuple[str, str]]]:
        if not run_id:
            return None, []
        try:
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(
                    mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="explanations", dst_path=tmp)
                )
                importance = _importance(json.loads((folder / "importance.json").read_text()))
                order = {"bar.png": 0, "beeswarm.png": 1}
                pngs = sorted(folder.glob("*.png"), key=lambda p: (order.get(p.name, 2), p.name))
                images = [(p.stem.replace("_", " "), png_data_uri(p.read_bytes())) for p in pngs]
        except (MlflowException, OSError, ValueError, RecursionError):  # not explained (yet): the page says so
            return None, []
        return importance, images

    def _slices(self, run_id: str | None) -> list[dict[str, Any]]:
        if not run_id:
            return []
        try:
            table = mlflow.artifacts.load_dict(f"runs:/{run_id}/slices/test_slices.json")
        except (MlflowException, OSError, ValueError, RecursionError):
            return []
        columns, data = (table.get("columns"), table.get("data")) if isinstance(table, dict) else (None, None)
        if not isinstance(columns, list) or not isinstance(data, list) or not all(isinstance(r, list) for r in data):
            log.warning("run %s: slices/test_slices.json is unreadable (not a table): not shown", run_id)
            return []
        return [dict(zip(map(str, columns), row, strict=False)) for row in data]

    def logged_report(self, version: str) -> str | None:
        """The explanation page as logged at training (standalone)."""
        view = self.version(version)
        if view is None or not view["run_id"]:
            return None
        try:
            return str(mlflow.artifacts.load_text(f"runs:/{view['run_id']}/explanations/report.html"))
        except (MlflowException, OSError):
            return None


def _importance(raw: Any) -> dict[str, float]:
    """An importance artifact as ``{feature: mean |SHAP|}``.

    Raises:
        ValueError: it is not an object of numbers.
    """
    if not isinstance(raw, dict):
        raise ValueError("importance.json is not an object")
    out = {}
    for k, v in raw.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"importance of {str(k)[:40]!r} is not a number")
        out[str(k)] = float(v)
    return out
