"""Stage drift."""

from driftgate.tasks.drift._attribution import (
    AttributionDrift,
    attribution_drift,
    compare_rankings,
    describe_attribution,
    ndcg,
)
from driftgate.tasks.drift._decision import Growth, RetrainDecision, Trigger, decide
from driftgate.tasks.drift._multivariate import MultivariateDrift, describe_multivariate, domain_classifier_drift
from driftgate.tasks.drift._reconstruction import ReconstructionDrift, describe_reconstruction, reconstruction_drift
from driftgate.tasks.drift._report import DriftReport, compute_drift, decide_task, drift_task
from driftgate.tasks.drift._statistics import FeatureDrift, benjamini_hochberg, ks_and_wasserstein

__all__ = [
    "AttributionDrift",
    "DriftReport",
    "FeatureDrift",
    "Growth",
    "MultivariateDrift",
    "ReconstructionDrift",
    "RetrainDecision",
    "Trigger",
    "attribution_drift",
    "benjamini_hochberg",
    "compare_rankings",
    "compute_drift",
    "decide",
    "decide_task",
    "describe_attribution",
    "describe_multivariate",
    "describe_reconstruction",
    "domain_classifier_drift",
    "drift_task",
    "ks_and_wasserstein",
    "ndcg",
    "reconstruction_drift",
]
