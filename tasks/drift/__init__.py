"""Stage ``drift``: a batch against the champion's training rows, and the retraining decision."""

from driftgate.tasks.drift._report import DriftReport, RetrainDecision, compute_drift, decide, decide_task, drift_task
from driftgate.tasks.drift._statistics import DriftPolicy, ks_and_wasserstein

__all__ = [
    "DriftPolicy",
    "DriftReport",
    "RetrainDecision",
    "compute_drift",
    "decide",
    "decide_task",
    "drift_task",
    "ks_and_wasserstein",
]
