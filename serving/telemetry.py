"""Prometheus metrics of the service (beside Litestar's per-route request metrics).

prometheus-client registers metrics in a process-wide registry, so they are created once per
process and shared by every app built in it (tests build several).
"""

from __future__ import annotations

from functools import cache

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
        self.served = Gauge(f"{PREFIX}_served_model_version", "Version currently served", ["model"])
        self.reloads = Counter(f"{PREFIX}_model_reloads", "Successful model loads", ["model"])
        self.reload_failures = Counter(f"{PREFIX}_model_reload_failures", "Failed model loads")
        self.reload_seconds = Histogram(f"{PREFIX}_model_reload_seconds", "Time to load and check a version")
        self.predlog_written = Counter(f"{PREFIX}_prediction_log_written", "Predictions written to the log")
        self.predlog_lost = Counter(f"{PREFIX}_prediction_log_lost", "Predictions the log could not keep")
        self.rejected = Counter(f"{PREFIX}_rejected_records", "Requests refused by the input contract", ["route"])

    def reloaded(self, name: str, version: str, seconds: float) -> None:
        self.reloads.labels(name).inc()
        self.reload_seconds.observe(seconds)
        self.served.labels(name).set(float(version))

    def reload_failed(self) -> None:
        self.reload_failures.inc()


@cache
def telemetry() -> Telemetry:
    return Telemetry()
