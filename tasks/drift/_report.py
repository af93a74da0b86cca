"""A batch's drift report, the retraining decision it feeds, and their Prefect task."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from driftgate.dataset.frames import SPLIT_COLUMN
from driftgate.dataset.spec import DatasetSpec
from driftgate.names import artifact_key
from driftgate.pages.charts import histogram_chart
from driftgate.pages.render import render_standalone
from driftgate.policies import DriftPolicy, RetrainPolicy
from driftgate.stores.lake import Lake
from driftgate.tasks.drift._attribution import AttributionDrift, attribution_drift, describe_attribution
from driftgate.tasks.drift._decision import Growth, RetrainDecision, decide
from driftgate.tasks.drift._multivariate import MultivariateDrift, describe_multivariate, domain_classifier_drift
from driftgate.tasks.drift._reconstruction import ReconstructionDrift, describe_reconstruction, reconstruction_drift
from driftgate.tasks.drift._statistics import FeatureDrift, adjust_for_many, categorical_drift, numeric_drift


@dataclass(frozen=True)
class DriftReport:
    """Per-feature verdicts of one batch against a reference, and the domain classifier's on the joint distribution."""

    dataset: str
    batch: int
    reference_rows: int
    current_rows: int
    features: list[FeatureDrift]
    target: FeatureDrift | None
    weights: dict[str, float]
    share_threshold: float
    multivariate: MultivariateDrift | None = None  # the domain classifier (None: switched off)
    reconstruction: ReconstructionDrift | None = None  # the PCA reconstruction error (None: switched off)
    attribution: AttributionDrift | None = None  # the model's reasons (None: no model given, or switched off)

    @property
    def drifted(self) -> list[str]:
        return [f.column for f in self.features if f.any_drift]

    @property
    def drifted_share(self) -> float:
        """Importance-weighted share of drifted features (uniform weights without a model)."""
        return float(sum(self.weights.get(c, 0.0) for c in self.drifted))

    @property
    def dataset_drift(self) -> bool:
        return self.drifted_share >= self.share_threshold

    @property
    def multivariate_share(self) -> float:
        """Importance-weighted share of the columns that tell the batch from the reference (domain classifier)."""
        if self.multivariate is None:
            return 0.0
        return float(sum(self.weights.get(c, 0.0) for c in self.multivariate.separating))

    @property
    def classifier_drift(self) -> bool:
        """The domain classifier separates the sets, on columns that carry the share of importance that retrains."""
        return bool(self.multivariate and self.multivariate.drifted and self.multivariate_share >= self.share_threshold)

    @property
    def reconstruction_share(self) -> float:
        """Importance-weighted share of the columns whose PCA residual moved (reconstruction error)."""
        if self.reconstruction is None:
            return 0.0
        return float(sum(self.weights.get(c, 0.0) for c in self.reconstruction.columns))

    @property
    def reconstruction_drift(self) -> bool:
        """The PCA reconstruction error left its band, on columns that carry the share of importance that retrains."""
        rd = self.reconstruction
        return bool(rd and rd.drifted and self.reconstruction_share >= self.share_threshold)

    @property
    def attribution_drift(self) -> bool:
        """The batch's mean-|SHAP| ranking scores an NDCG below the bound against the version's."""
        return bool(self.attribution and self.attribution.drifted)

    @property
    def multivariate_drift(self) -> bool:
        """The joint distribution drifted (domain classifier or PCA reconstruction), on columns that matter."""
        return self.classifier_drift or self.reconstruction_drift

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(
            drifted=self.drifted,
            drifted_share=self.drifted_share,
            dataset_drift=self.dataset_drift,
            multivariate_share=self.multivariate_share,
            reconstruction_share=self.reconstruction_share,
            multivariate_drift=self.multivariate_drift,
            attribution_drift=self.attribution_drift,
        )
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=float)

    def to_markdown(self, decision: RetrainDecision | None = None) -> str:
        lines = [f"# Drift of {self.dataset} batch {self.batch}", ""]
        if decision:
            trigger = f" (trigger: {decision.trigger})" if decision.trigger else ""
            lines += [f"**Retrain: {'yes' if decision.retrain else 'no'}{trigger}**", ""]
            lines += [f"- {r}" for r in decision.reasons] + [""]
        if mv := self.multivariate:
            lines += [f"Joint distribution: {describe_multivariate(mv)}", ""]
        if rd := self.reconstruction:
            lines += [f"Joint distribution: {describe_reconstruction(rd)}", ""]
        if ad := self.attribution:
            lines += [f"Model's reasons: {describe_attribution(ad)}", ""]
        lines += [
            "| column | statistic | value | threshold | p-value | adjusted | missing ref→cur | drift |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for f in [*self.features, *([self.target] if self.target else [])]:
            adjusted = "-" if f.p_adjusted is None else f"{f.p_adjusted:.2g}"
            lines.append(
                f"| {f.column} | {f.statistic} | {f.value:.4f} | {f.threshold} | {f.p_value:.2g} | {adjusted} | "
                f"{f.missing_ref:.1%}→{f.missing_cur:.1%} | {'**yes**' if f.any_drift else 'no'} |"
            )
        return "\n".join(lines)

    def chart_rows(self) -> list[tuple[FeatureDrift, Any]]:
        """Each feature (and the target) with its chart of reference vs batch shares."""
        every = [*self.features, *([self.target] if self.target else [])]
        return [(f, histogram_chart(f.histogram, f.column)) for f in every]

    def to_html(self, decision: RetrainDecision | None = None, *, title: str | None = None) -> str:
        return render_standalone(
            "report_drift.html",
            title=title or f"Drift of {self.dataset} batch {self.batch}",
            report=self,
            decision=decision,
            rows=self.chart_rows(),
        )


def compute_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    spec: DatasetSpec,
    policy: DriftPolicy,
    *,
    importance: dict[str, float] | None = None,
    batch: int = 0,
    model: Any | None = None,
) -> DriftReport:
    """Compare every feature (and the target, when labelled) of ``current`` to ``reference``.

    Calendar features are left out: the month of a later batch differs by design, not by drift.

    Args:
        importance: the champion's mean |SHAP| per feature, as logged with it (weights; attribution drift).
        model: the champion's pipeline: with ``importance``, its reasons on ``current`` are compared with
            the version's (attribution drift); None: not compared.
    """
    features = []
    for col in spec.drift_features:
        if col in spec.numeric:
            features.append(numeric_drift(col, _floats(reference[col]), _floats(current[col]), policy))
        else:
            features.append(categorical_drift(col, reference[col], current[col], policy))
    target = None
    if spec.target in current.columns and spec.target in reference.columns:
        if spec.task == "regression":
            target = numeric_drift(spec.target, _floats(reference[spec.target]), _floats(current[spec.target]), policy)
        else:
            target = categorical_drift(spec.target, reference[spec.target], current[spec.target], policy)
    weights = _weights(spec.drift_features, importance if policy.use_importance else None)
    multivariate = None
    if policy.multivariate_rows > 0 and spec.drift_features:
        multivariate = domain_classifier_drift(
            reference,
            current,
            numeric=[c for c in spec.drift_features if c in spec.numeric],
            categorical=[c for c in spec.drift_features if c not in spec.numeric],
            policy=policy,
        )
    reconstruction = None
    if policy.reconstruction_rows > 0 and spec.drift_features:
        reconstruction = reconstruction_drift(
            reference,
            current,
            numeric=[c for c in spec.drift_features if c in spec.numeric],
            categorical=[c for c in spec.drift_features if c not in spec.numeric],
            policy=policy,
        )
    attribution = None
    if model is not None and policy.attribution_rows > 0:
        attribution = attribution_drift(model, spec, current, importance, policy)
    return DriftReport(
        spec.name,
        batch,
        len(reference),
        len(current),
        adjust_for_many(features, policy.fdr_q),
        target,
        weights,
        policy.share_threshold,
        multivariate,
        reconstruction,
        attribution,
    )


def _floats(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)


def _weights(names: list[str], importance: dict[str, float] | None) -> dict[str, float]:
    if importance:
        raw = {n: max(float(importance.get(n, 0.0)), 0.0) for n in names}
        total = sum(raw.values())
        if total > 0:
            return {n: v / total for n, v in raw.items()}
    return {n: 1 / len(names) for n in names}


@task(name="detect-drift", task_run_name="drift-{batch}", cache_policy=NO_CACHE)
def drift_task(
    lake: Lake,
    spec: DatasetSpec,
    batch: int,
    reference: pd.DataFrame,
    *,
    policy: DriftPolicy,
    importance: dict[str, float] | None,
    model: Any | None = None,
) -> DriftReport:
    current = lake.read_batch(spec.name, batch).drop(columns=[SPLIT_COLUMN], errors="ignore")
    return compute_drift(reference, current, spec, policy, importance=importance, batch=batch, model=model)


def log_drift_run(experiment_id: str, report: DriftReport, decision: RetrainDecision, html: str | None = None) -> str:
    """Log the report to MLflow as its own run (metrics per feature, JSON + HTML); the run id.

    ``html``: the report's page already rendered (``report.to_html(decision)``), else rendered here.
    """
    import mlflow

    payload = report.to_dict() | {"decision": asdict(decision)}
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"drift-{report.dataset}-batch-{report.batch}") as run:
        mlflow.set_tags(
            {
                "driftgate.kind": "drift",
                "driftgate.batch": str(report.batch),
                "driftgate.retrain": str(decision.retrain),
                "driftgate.trigger": str(decision.trigger or ""),
                "driftgate.reasons": "; ".join(decision.reasons),
            }
        )
        columns = [*report.features, *([report.target] if report.target else [])]
        # one call: a call per column is a store write each (seconds a batch on a table of 100 columns)
        mv, rd, ad = report.multivariate, report.reconstruction, report.attribution
        mlflow.log_metrics(
            {"drifted_share": report.drifted_share}
            | {f"drift_{f.column}_{f.statistic.split('/')[0]}": f.value for f in columns}
            | ({"multivariate_auroc": mv.auroc, "multivariate_p_value": mv.p_value} if mv and not mv.note else {})
            | (
                {"reconstruction_error": rd.error, "reconstruction_lower": rd.lower, "reconstruction_upper": rd.upper}
                if rd and not rd.note
                else {}
            )
            | ({"attribution_ndcg": ad.ndcg} if ad and not ad.note else {})
        )
        mlflow.log_dict(json.loads(json.dumps(payload, default=float)), "drift/report.json")
        mlflow.log_text(report.to_html(decision) if html is None else html, "drift/report.html")
    return str(run.info.run_id)


def publish_drift(lake: Lake, report: DriftReport, decision: RetrainDecision, html: str | None = None) -> str:
    """Store the report (JSON + HTML) in the lake and show it in the Prefect UI (``html``: as for
    :func:`log_drift_run`)."""
    base = lake.path("reports", "drift", report.dataset)
    payload = report.to_dict() | {"decision": asdict(decision)}
    lake.write_bytes(f"{base}/{report.batch}.json", json.dumps(payload, indent=2, default=float).encode())
    lake.write_bytes(f"{base}/{report.batch}.html", (report.to_html(decision) if html is None else html).encode())
    create_markdown_artifact(report.to_markdown(decision), key=artifact_key("drift", report.dataset, report.batch))
    return lake.uri("reports", "drift", report.dataset, f"{report.batch}.html")


@dataclass(frozen=True)
class PublishedDecision:
    """A batch's retrain decision, with where its drift report went (both None without a champion)."""

    decision: RetrainDecision
    report_uri: str | None = None  # the report page in the lake
    run_id: str | None = None  # the MLflow run of the drift check


@task(name="decide-retrain", task_run_name="decide-{batch}", cache_policy=NO_CACHE)
def decide_task(
    lake: Lake,
    experiment_id: str,
    batch: int,
    report: DriftReport | None,
    *,
    policy: DriftPolicy,
    spec: DatasetSpec,
    champion_score: float | None,
    retrain: RetrainPolicy | None = None,
    growth: Growth | None = None,
) -> PublishedDecision:
    """The retrain decision (:func:`decide`), with its drift report published (lake, MLflow, Prefect)."""
    decision = decide(
        report,
        policy,
        spec,
        has_champion=report is not None,
        champion_score=champion_score,
        retrain=retrain,
        growth=growth,
    )
    if report is None:
        return PublishedDecision(decision)
    # one page for the lake and the MLflow run: a chart per column, ~0.5 s for 100 columns on a loaded machine
    html = report.to_html(decision)
    return PublishedDecision(
        decision,
        report_uri=publish_drift(lake, report, decision, html),
        run_id=log_drift_run(experiment_id, report, decision, html),
    )
