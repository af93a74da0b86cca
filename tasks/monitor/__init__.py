"""Stage ``monitor``: live traffic against the champion (drift, realized and estimated performance, labels,
the probation of a newly promoted champion)."""

from driftgate.tasks.monitor._estimate import estimate, fit_calibration, fit_multiclass_calibration
from driftgate.tasks.monitor._feedback import FEEDBACK_FIRST, feedback_records, store_feedback_batch
from driftgate.tasks.monitor._monitor import (
    feedback_batch_task,
    live_drift_task,
    live_gate_task,
    performance_task,
    publish_monitor_task,
)
from driftgate.tasks.monitor._outcome import LiveGateSummary, MonitorOutcome, ProbationSummary
from driftgate.tasks.monitor._probation import (
    Action,
    ProbationLook,
    RollbackDecision,
    check_probation,
    decide_rollback,
    look_confidence,
    probation_task,
    settle_probation,
)

__all__ = [
    "FEEDBACK_FIRST",
    "Action",
    "LiveGateSummary",
    "MonitorOutcome",
    "ProbationLook",
    "ProbationSummary",
    "RollbackDecision",
    "check_probation",
    "decide_rollback",
    "estimate",
    "feedback_batch_task",
    "feedback_records",
    "fit_calibration",
    "fit_multiclass_calibration",
    "live_drift_task",
    "live_gate_task",
    "look_confidence",
    "performance_task",
    "probation_task",
    "publish_monitor_task",
    "settle_probation",
    "store_feedback_batch",
]
