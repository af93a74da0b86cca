"""``POST /feedback``: true labels of earlier predictions, by prediction id.

Each label is checked against the dataset's target (a class the served model knows; a finite
number within the spec's target range) and stored once beside its prediction. Ids no logged
prediction carries, and ids already labelled, are answered back (counts and ids): nothing is
dropped silently and nothing is overwritten. The realized metric per version is recomputed from
the database after a write (at most every few seconds) into ``driftgate_realized_metric``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import time
from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.status_codes import HTTP_200_OK

from driftgate.predictions_db import MAX_ID_LENGTH, connect, read_labelled, store_labels
from driftgate.serving.body import json_type
from driftgate.serving.guards import feedback_source_problem, json_state_change
from driftgate.serving.model_store import ModelStore
from driftgate.serving.schemas import ErrorBody, ErrorItem
from driftgate.serving.telemetry import Telemetry
from driftgate.settings import Settings
from driftgate.spec import DatasetSpec
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

    def __init__(self, url: str, spec: DatasetSpec, model: str, window: int, telemetry: Telemetry) -> None:
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
        return FeedbackResponse(len(stored), IdList(len(unknown), unknown), IdList(len(duplicate), duplicate))

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


def feedback_routes(settings: Settings, store: ModelStore, telemetry: Telemetry) -> list[Any]:
    """The ``POST /feedback`` handler of one app (it keeps its own database engine)."""
    labels = FeedbackStore(
        settings.resolved_predictions_db_url(), store.spec, store.name, settings.monitor_window, telemetry
    )
    max_bytes = settings.max_records * 256 + 1024  # ~ an id, a label and JSON punctuation per item

    @post("/feedback", status_code=HTTP_200_OK, guards=[json_state_change], security=[{"apiKey": []}])
    async def feedback(request: Request[Any, Any, Any]) -> Response[Any]:
        """Labels of earlier predictions: ``{"labels": [{"id": ..., "label": ...}]}`` (header ``X-API-Key`` when set).

        Answers how many were stored, and which ids were unknown or already labelled. With no admin
        key set, only clients on this machine may send labels (unless ``DRIFTGATE_FEEDBACK_OPEN=true``).
        """
        key = settings.admin_api_key.get_secret_value() if settings.admin_api_key else None
        if key and not hmac.compare_digest(request.headers.get("x-api-key", "").encode(), key.encode()):
            return Response(
                ErrorBody(401, "missing or wrong X-API-Key", [ErrorItem("X-API-Key", "wrong or missing")]),
                status_code=401,
            )
        client = request.client.host if request.client else None
        refused = feedback_source_problem(client, has_key=bool(key), open_to_all=settings.feedback_open)
        if refused:
            return Response(ErrorBody(403, refused, [ErrorItem("request", refused)]), status_code=403)
        body = await request.body()
        if len(body) > max_bytes:
            reason = f"the body holds {len(body)} bytes; /feedback takes at most {max_bytes}"
            return Response(ErrorBody(413, reason, [ErrorItem("body", reason)]), status_code=413)
        try:
            items = msgspec.json.decode(body, type=FeedbackRequest).labels
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as exc:
            reason = f'must be a JSON object {{"labels": [...]}}: {exc}'
            return Response(
                ErrorBody(400, f"invalid request body: {reason}", [ErrorItem("body", reason)]), status_code=400
            )
        served = store.current
        pairs, errors = check_items(store.spec, served.classes if served else [], items, settings.max_records)
        if errors:
            detail = f"labels break the target's contract: {errors[0].field}: {errors[0].reason}"
            return Response(ErrorBody(422, detail, errors), status_code=422)
        return Response(await asyncio.to_thread(labels.store, pairs))

    return [feedback]
