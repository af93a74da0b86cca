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
    skew_task,
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
from driftgate.tasks.monitor._skew import SkewReport, SkewRow, check_skew, output_difference, rescore

__all__ = [
    "FEEDBACK_FIRST",
    "Action",
    "LiveGateSummary",
    "MonitorOutcome",
    "ProbationLook",
    "ProbationSummary",
    "RollbackDecision",
    "SkewReport",
    "SkewRow",
    "check_probation",
    "check_skew",
    "decide_rollback",
    "estimate",
    "feedback_batch_task",
    "feedback_records",
    "fit_calibration",
    "fit_multiclass_calibration",
    "live_drift_task",
    "live_gate_task",
    "look_confidence",
    "output_difference",
    "performance_task",
    "probation_task",
    "publish_monitor_task",
    "rescore",
    "settle_probation",
    "skew_task",
    "store_feedback_batch",
]
