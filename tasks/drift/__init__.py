"""Stage drift."""

from driftgate.tasks.drift._decision import Growth, RetrainDecision, Trigger, decide
from driftgate.tasks.drift._report import DriftReport, compute_drift, decide_task, drift_task
from driftgate.tasks.drift._statistics import ks_and_wasserstein

__all__ = [
    "DriftReport",
    "Growth",
    "RetrainDecision",
    "Trigger",
    "compute_drift",
    "decide",
    "decide_task",
    "drift_task",
    "ks_and_wasserstein",
]
