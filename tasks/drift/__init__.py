"""Stage drift."""

from driftgate.tasks.drift._decision import Growth, RetrainDecision, Trigger, decide
from driftgate.tasks.drift._multivariate import MultivariateDrift, describe_multivariate, domain_classifier_drift
from driftgate.tasks.drift._report import DriftReport, compute_drift, decide_task, drift_task
from driftgate.tasks.drift._statistics import FeatureDrift, benjamini_hochberg, ks_and_wasserstein

__all__ = [
    "DriftReport",
    "FeatureDrift",
    "Growth",
    "MultivariateDrift",
    "RetrainDecision",
    "Trigger",
    "benjamini_hochberg",
    "compute_drift",
    "decide",
    "decide_task",
    "describe_multivariate",
    "domain_classifier_drift",
    "drift_task",
    "ks_and_wasserstein",
]
