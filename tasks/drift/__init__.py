"""Stage drift."""

from driftgate.tasks.drift._decision import Growth, RetrainDecision, RetrainPolicy, Trigger, decide
from driftgate.tasks.drift._report import DriftReport, compute_drift, decide_task, drift_task
from driftgate.tasks.drift._statistics import DriftPolicy, ks_and_wasserstein

__all__ = [
    "DriftPolicy",
    "DriftReport",
    "Growth",
    "RetrainDecision",
    "RetrainPolicy",
    "Trigger",
    "compute_drift",
    "decide",
    "decide_task",
    "drift_task",
    "ks_and_wasserstein",
]
