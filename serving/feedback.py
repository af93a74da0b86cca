"""Labels of earlier predictions (``POST /feedback``): checked against the target, stored once.

Each label is checked against the dataset's target (a class the served model knows; a finite
number within the spec's target range) and stored once beside its prediction. Ids no logged
prediction carries, and ids already labelled, are answered back (counts and ids): nothing is
dropped silently and nothing is overwritten. The realized metric per version is recomputed from
the database after a write (at most every few seconds) into ``driftgate_realized_metric``.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import msgspec

from driftgate.dataset.spec import DatasetSpec
from driftgate.serving.body import json_type
from driftgate.serving.schemas import ErrorItem
from driftgate.serving.telemetry import Telemetry
from driftgate.stores.predictions_db import MAX_ID_LENGTH, connect, read_labelled, store_labels
from driftgate.tasks.evaluate import realized_metrics

log = logging.getLogger(__name__)

GAUGE_EVERY_S = 5.0


class FeedbackRequest(msgspec.Struct, forbid_unknown_fields=True):
    labels: list[Any]


class IdList(msgspec.Struct):
    count: int
    ids: list[str]


class FeedbackResponse(msgspec.Struct):
    stored: int
    unknown: IdList
    duplicates: IdList


def check_label(spec: DatasetSpec, classes: list[str], value: Any) -> tuple[Any, str | None]:
    """A label as stored (class as str, value as float), or the reason it is not one of this target."""
    if value is None:
        return None, "is required (null is not a label)"
    if spec.task == "classification":
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            return None, f"must be a class (string or integer), got {json_type(value)}"
        if classes and str(value) not in classes:
            return None, f"unknown class {str(value)!r}; the model's classes: {', '.join(classes)}"
        return str(value), None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, f"must be a number, got {json_type(value)}"
    v = float(value)
    if not math.isfinite(v):
        return None, "must be a finite number"
    if spec.target_min is not None and v < spec.target_min:
        return None, f"{v:g} is below the target's minimum {spec.target_min:g}"
    if spec.target_max is not None and v > spec.target_max:
        return None, f"{v:g} is above the target's maximum {spec.target_max:g}"
    return v, None


def check_items(
    spec: DatasetSpec, classes: list[str], items: list[Any], limit: int
) -> tuple[list[tuple[str, Any]], list[ErrorItem]]:
    """Validated ``(id, label)`` pairs, or every problem found (up to 20), each naming ``labels[i]``."""
    if not items:
        return [], [ErrorItem("labels", "must hold at least 1 label")]
    if len(items) > limit:
        return [], [ErrorItem("labels", f"holds {len(items)} labels; /feedback takes at most {limit}")]
    pairs: list[tuple[str, Any]] = []
    errors: list[ErrorItem] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"id", "label"}:
            found = sorted(item) if isinstance(item, dict) else json_type(item)
            errors.append(ErrorItem(f"labels[{i}]", f"must be an object with exactly 'id' and 'label', got {found}"))
        else:
            pid = item["id"]
            if isinstance(pid, bool) or not isinstance(pid, (str, int)) or not 0 < len(str(pid)) <= MAX_ID_LENGTH:
                errors.append(
                    ErrorItem(f"labels[{i}].id", f"must be a string or integer of 1 to {MAX_ID_LENGTH} characters")
                )
            label, reason = check_label(spec, classes, item["label"])
            if reason:
                errors.append(ErrorItem(f"labels[{i}].label", reason))
            elif not errors:
                pairs.append((str(pid), label))
        if len(errors) >= 20:
            break
    return pairs, errors


class FeedbackStore:
    """The prediction database as /feedback writes it, and the realized-metric gauges."""

    def __init__(self, url: str, spec: DatasetSpec, *, model: str, window: int, telemetry: Telemetry) -> None:
        self.url, self.spec, self.model, self.window, self.telemetry = url, spec, model, window, telemetry
        self._gauged_at = 0.0

    def store(self, pairs: list[tuple[str, Any]]) -> FeedbackResponse:
        engine = connect(self.url)  # per call: feedback is rare next to predictions, and nothing stays open
        try:
            stored, unknown, duplicate = store_labels(engine, pairs)
        finally:
            engine.dispose()
        for outcome, ids in (("stored", stored), ("unknown", unknown), ("duplicate", duplicate)):
            if ids:
                self.telemetry.feedback_labels.labels(outcome).inc(len(ids))
        if stored and time.monotonic() - self._gauged_at > GAUGE_EVERY_S:
            self._gauged_at = time.monotonic()
            self.update_gauges()
        return FeedbackResponse(
            stored=len(stored),
            unknown=IdList(count=len(unknown), ids=unknown),
            duplicates=IdList(count=len(duplicate), ids=duplicate),
        )

    def update_gauges(self) -> None:
        """Set ``driftgate_realized_metric`` per version and role from the database's newest labels."""
        try:
            rows = read_labelled(self.url, self.model, limit=self.window * 4)
            for r in realized_metrics(self.spec, rows, self.window, n_boot=0):
                if r.value == r.value:
                    self.telemetry.realized_metric.labels(self.model, r.version, r.role, r.metric).set(r.value)
                self.telemetry.realized_rows.labels(self.model, r.version, r.role).set(r.rows)
        except Exception:  # a gauge must never fail the feedback that was stored
            log.exception("could not update the realized-metric gauges")
