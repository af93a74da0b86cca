"""Stage ``monitor``: live traffic against the champion (drift, realized and estimated performance, labels)."""

from driftgate.tasks.monitor._estimate import estimate, fit_calibration, fit_multiclass_calibration
from driftgate.tasks.monitor._feedback import FEEDBACK_FIRST, feedback_records, store_feedback_batch
from driftgate.tasks.monitor._monitor import (
    feedback_batch_task,
    live_drift_task,
    live_gate_task,
    performance_task,
    publish_monitor_task,
)
from driftgate.tasks.monitor._outcome import LiveGateSummary, MonitorOutcome

__all__ = [
    "FEEDBACK_FIRST",
    "LiveGateSummary",
    "MonitorOutcome",
    "estimate",
    "feedback_batch_task",
    "feedback_records",
    "fit_calibration",
    "fit_multiclass_calibration",
    "live_drift_task",
    "live_gate_task",
    "performance_task",
    "publish_monitor_task",
    "store_feedback_batch",
]
