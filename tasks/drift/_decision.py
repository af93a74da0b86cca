"""Whether a batch retrains, and why: named triggers under a retraining policy (pure).

Triggers, in the order they are checked: ``forced`` (a person or the monitor asked), ``first``
(no champion), ``drift`` (the target, enough importance-weighted features, or the joint distribution
(the domain classifier or the PCA reconstruction error, named ``multivariate`` in the reasons) drifted
against the champion's training rows, or the champion's mean-|SHAP| ranking on the batch left the
version's own (named ``attribution``)), ``metric`` (the champion is worse than ``DRIFTGATE_METRIC_FLOOR`` on
the batch), ``growth`` (the accepted rows the champion never saw reach ``DRIFTGATE_RETRAIN_GROWTH``
of the rows it trained on), ``always`` (the policy retrains every accepted batch).

Policies (``DRIFTGATE_RETRAIN_POLICY``): ``never`` trains only the first model (and when forced),
``drift`` adds drift and metric, ``drift+growth`` adds growth (the default), ``always`` retrains
every accepted batch (naming the first trigger above that applies, else ``always``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from driftgate.policies import DriftPolicy, RetrainPolicy
from driftgate.dataset.spec import DatasetSpec
from driftgate.tasks.drift._attribution import describe_attribution
from driftgate.tasks.drift._multivariate import describe_multivariate
from driftgate.tasks.drift._reconstruction import describe_reconstruction

if TYPE_CHECKING:
    from driftgate.tasks.drift._report import DriftReport


class Trigger(StrEnum):
    """Why a batch retrained."""

    FORCED = "forced"
    FIRST = "first"
    DRIFT = "drift"
    METRIC = "metric"
    GROWTH = "growth"
    ALWAYS = "always"


@dataclass(frozen=True)
class Growth:
    """Accepted rows the champion trained on, and the accepted rows (batches) it never saw."""

    champion_rows: int
    new_rows: int
    new_batches: list[int] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.new_rows / self.champion_rows if self.champion_rows else float("inf")


@dataclass(frozen=True)
class RetrainDecision:
    """Whether to retrain, the trigger that fired (None: no retrain), and why, in words."""

    retrain: bool
    reasons: list[str] = field(default_factory=list)
    trigger: Trigger | None = None


def _drift_reasons(report: DriftReport) -> list[str]:
    reasons = []
    if report.target is not None and report.target.any_drift:
        t = report.target
        reasons.append(f"target {t.column!r} drifted ({t.statistic} {t.value:.3f} >= {t.threshold}, p={t.p_value:.2g})")
    if report.dataset_drift:
        reasons.append(
            f"drifted features {', '.join(report.drifted)} carry {report.drifted_share:.0%} of the "
            f"importance (threshold {report.share_threshold:.0%})"
        )
    if report.multivariate is not None and report.classifier_drift:
        reasons.append(
            f"multivariate: joint distribution drifted: {describe_multivariate(report.multivariate)}; they carry "
            f"{report.multivariate_share:.0%} of the importance (threshold {report.share_threshold:.0%})"
        )
    if report.reconstruction is not None and report.reconstruction_drift:
        reasons.append(
            f"multivariate: {describe_reconstruction(report.reconstruction)}; they carry "
            f"{report.reconstruction_share:.0%} of the importance (threshold {report.share_threshold:.0%})"
        )
    if report.attribution is not None and report.attribution_drift:
        reasons.append(f"attribution: the model's reasons drifted: {describe_attribution(report.attribution)}")
    return reasons


def _joint_stable(report: DriftReport) -> str:
    out = ""
    mv, rd = report.multivariate, report.reconstruction
    if mv is not None and not mv.note:
        if not mv.drifted:
            out += f"; joint distribution stable (AUROC {mv.auroc:.3f})"
        else:
            out += (
                f"; joint distribution drifted (AUROC {mv.auroc:.3f}) on columns carrying "
                f"{report.multivariate_share:.0%} of the importance ({', '.join(mv.separating) or 'none'})"
            )
    if rd is not None and not rd.note:
        if not rd.drifted:
            out += f"; PCA reconstruction error {rd.error:.4f} within [{rd.lower:.4f}, {rd.upper:.4f}]"
        else:
            out += (
                f"; PCA reconstruction error {rd.error:.4f} outside [{rd.lower:.4f}, {rd.upper:.4f}] on columns "
                f"carrying {report.reconstruction_share:.0%} of the importance ({', '.join(rd.columns) or 'none'})"
            )
    ad = report.attribution
    if ad is not None and not ad.note:
        out += f"; the model's reasons stable (SHAP ranking NDCG {ad.ndcg:.3f})"
    return out


def _growth_reason(growth: Growth, threshold: float) -> str:
    batches = ", ".join(map(str, growth.new_batches)) or "none"
    return (
        f"{growth.new_rows} accepted rows the champion never saw (batches {batches}) are {growth.share:.0%} of "
        f"the {growth.champion_rows} rows it trained on (growth threshold {threshold:.0%})"
    )


def decide(
    report: DriftReport | None,
    policy: DriftPolicy,
    spec: DatasetSpec,
    *,
    has_champion: bool,
    champion_score: float | None = None,
    retrain: RetrainPolicy | None = None,
    growth: Growth | None = None,
    forced: str | None = None,
) -> RetrainDecision:
    """The retraining decision for one batch (pure).

    Args:
        report: the batch's drift against the champion's training rows (None: no champion).
        policy: drift thresholds and the metric floor.
        spec: the dataset spec (the metric's direction).
        has_champion: a champion serves.
        champion_score: the champion's primary metric on the batch's test rows.
        retrain: which triggers retrain (default: the settings' defaults).
        growth: the champion's rows and the new rows (None: growth is not judged).
        forced: a reason someone asked for a retrain (trigger ``forced``).
    """
    retrain = retrain or RetrainPolicy()
    if forced:
        return RetrainDecision(True, [forced], Trigger.FORCED)
    if not has_champion or report is None:
        return RetrainDecision(True, ["no champion yet"], Trigger.FIRST)
    drift = _drift_reasons(report)
    metric = []
    if (
        policy.metric_floor is not None
        and champion_score is not None
        and spec.better(policy.metric_floor, champion_score)
    ):
        metric.append(f"champion {spec.metric.name} {champion_score:.4g} is worse than the floor {policy.metric_floor}")
    grew = growth is not None and growth.share >= retrain.growth
    if retrain.name == "never":
        seen = "; ".join(drift + metric) or "no trigger"
        return RetrainDecision(False, [f"policy never: the champion keeps serving ({seen})"])
    if drift:
        return RetrainDecision(True, drift + metric, Trigger.DRIFT)
    if metric:
        return RetrainDecision(True, metric, Trigger.METRIC)
    if grew and retrain.name in ("drift+growth", "always"):
        assert growth is not None
        return RetrainDecision(True, [_growth_reason(growth, retrain.growth)], Trigger.GROWTH)
    if retrain.name == "always":
        return RetrainDecision(True, ["policy always: every accepted batch retrains"], Trigger.ALWAYS)
    drifted = ", ".join(report.drifted) or "none"
    reasons = [
        f"no drift that matters: drifted features ({drifted}) carry {report.drifted_share:.0%} of the "
        f"importance, below {report.share_threshold:.0%}; target stable" + _joint_stable(report)
    ]
    if growth is not None and retrain.name == "drift+growth":
        reasons.append("not enough new rows: " + _growth_reason(growth, retrain.growth))
    return RetrainDecision(False, reasons)
