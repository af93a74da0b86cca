"""Prometheus metrics of the service (beside Litestar's per-route request metrics).

prometheus-client registers metrics in a process-wide registry, so they are created once per
process and shared by every app built in it (tests build several).
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

PREFIX = "driftgate"


class Telemetry:
    def __init__(self) -> None:
        self.predictions = Counter(f"{PREFIX}_predictions", "Records predicted", ["model", "version"])
        self.model_batch = Histogram(
            f"{PREFIX}_model_batch_rows",
            "Rows per model call (micro-batching)",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
        )
        self.model_call = Histogram(
            f"{PREFIX}_model_call_seconds",
            "Time of one (batched) model call",
            buckets=(0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256),
        )
        self.served = Gauge(f"{PREFIX}_served_model_version", "Version currently served", ["model"])
        self.reloads = Counter(f"{PREFIX}_model_reloads", "Successful model loads", ["model"])
        self.reload_failures = Counter(f"{PREFIX}_model_reload_failures", "Failed model loads")
        self.reload_seconds = Histogram(f"{PREFIX}_model_reload_seconds", "Time to load and check a version")
        self.predlog_written = Counter(f"{PREFIX}_prediction_log_written", "Predictions written to the log")
        self.predlog_lost = Counter(f"{PREFIX}_prediction_log_lost", "Predictions the log could not keep")
        self.predlog_pruned = Counter(
            f"{PREFIX}_prediction_log_pruned", "Logged rows deleted by retention (past its age or row cap)"
        )
        self.predlog_sampled_out = Counter(
            f"{PREFIX}_prediction_log_sampled_out", "Predictions not logged by the sample rate"
        )
        self.predlog_duplicate_ids = Counter(
            f"{PREFIX}_prediction_log_duplicate_ids", "Logged rows skipped: their prediction id was already logged"
        )
        self.shadow_predictions = Counter(
            f"{PREFIX}_shadow_predictions", "Records scored by the challenger off the request path", ["version"]
        )
        self.shadow_dropped = Counter(f"{PREFIX}_shadow_dropped", "Records the shadow scorer had no room or time for")
        self.shadow_compared = Counter(
            f"{PREFIX}_shadow_compared", "Records whose shadow answer was compared with the champion's", ["version"]
        )
        self.shadow_disagreements = Counter(
            f"{PREFIX}_shadow_disagreements",
            "Compared records where the shadow challenger disagreed with the champion "
            "(another most likely class, or a number more than 10 % apart)",
            ["version"],
        )
        self.live_drift_share = Gauge(
            f"{PREFIX}_live_drift_share",
            "Importance-weighted share of drifted features in monitor-predictions' newest check of live inputs",
            ["model"],
        )
        self.feedback_labels = Counter(f"{PREFIX}_feedback_labels", "Labels sent to /feedback, by outcome", ["outcome"])
        self.realized_metric = Gauge(
            f"{PREFIX}_realized_metric",
            "Primary metric on labelled live predictions (newest window)",
            ["model", "version", "role", "metric"],
        )
        self.realized_rows = Gauge(
            f"{PREFIX}_realized_rows", "Labelled predictions behind the realized metric", ["model", "version", "role"]
        )
        self.rejected = Counter(f"{PREFIX}_rejected_records", "Requests refused by the input contract", ["route"])
        self.http_requests = Counter(f"{PREFIX}_http_requests", "HTTP requests", ["method", "path", "status_code"])
        self.http_latency = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "path"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )

    def reloaded(self, name: str, version: str, seconds: float) -> None:
        self.reloads.labels(name).inc()
        self.reload_seconds.observe(seconds)
        self.served.labels(name).set(float(version))

    def reload_failed(self) -> None:
        self.reload_failures.inc()


@cache
def telemetry() -> Telemetry:
    return Telemetry()


class HttpMetrics:
    """Lean ASGI middleware: requests by method, route template and status; latency by route.

    Litestar's own Prometheus middleware builds a Request and label dicts per call; on this
    service it cost ~20 % of the event loop's time, so label children are cached here instead.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = telemetry().http_requests
        self.latency = telemetry().http_latency
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            key = (scope["method"], scope.get("path_template") or scope["path"], status)
            children = self._children.get(key)
            if children is None:
                children = (self.requests.labels(*key), self.latency.labels(key[0], key[1]))
                self._children[key] = children
            children[0].inc()
            children[1].observe(time.perf_counter() - started)
