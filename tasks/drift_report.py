"""A batch's drift report, the retraining decision it feeds, and their Prefect task."""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from driftgate.frames import SPLIT_COLUMN
from driftgate.lake import Lake
from driftgate.spec import DatasetSpec
from driftgate.tasks.drift import DriftPolicy, FeatureDrift, categorical_drift, numeric_drift


@dataclass(frozen=True)
class DriftReport:
    """Per-feature verdicts of one batch against a reference."""

    dataset: str
    batch: int
    reference_rows: int
    current_rows: int
    features: list[FeatureDrift]
    target: FeatureDrift | None
    weights: dict[str, float]
    share_threshold: float

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

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(drifted=self.drifted, drifted_share=self.drifted_share, dataset_drift=self.dataset_drift)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=float)

    def to_markdown(self, decision: RetrainDecision | None = None) -> str:
        lines = [f"# Drift of {self.dataset} batch {self.batch}", ""]
        if decision:
            lines += [f"**Retrain: {'yes' if decision.retrain else 'no'}**", ""]
            lines += [f"- {r}" for r in decision.reasons] + [""]
        lines += [
            "| column | statistic | value | threshold | p-value | missing ref→cur | drift |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in [*self.features, *([self.target] if self.target else [])]:
            lines.append(
                f"| {f.column} | {f.statistic} | {f.value:.4f} | {f.threshold} | {f.p_value:.2g} | "
                f"{f.missing_ref:.1%}→{f.missing_cur:.1%} | {'**yes**' if f.any_drift else 'no'} |"
            )
        return "\n".join(lines)

    def to_html(self, decision: RetrainDecision | None = None) -> str:
        rows = []
        for f in [*self.features, *([self.target] if self.target else [])]:
            rows.append(
                f"<tr class={'drift' if f.any_drift else 'ok'}><td>{html.escape(f.column)}</td>"
                f"<td>{f.statistic}</td><td>{f.value:.4f}</td><td>{f.threshold}</td><td>{f.p_value:.2g}</td>"
                f"<td>{f.missing_ref:.1%} → {f.missing_cur:.1%}</td><td>{'yes' if f.any_drift else 'no'}</td>"
                f"<td>{_bars_svg(f)}</td></tr>"
            )
        verdict = ""
        if decision:
            reasons = "".join(f"<li>{html.escape(r)}</li>" for r in decision.reasons)
            verdict = f"<h2>Retrain: {'yes' if decision.retrain else 'no'}</h2><ul>{reasons}</ul>"
        return (
            "<!doctype html><meta charset=utf-8>"
            f"<title>Drift: {html.escape(self.dataset)} batch {self.batch}</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:4px}"
            "table{border-collapse:collapse}tr.drift{background:#fde2e2}</style>"
            f"<h1>Drift of {html.escape(self.dataset)} batch {self.batch}</h1>"
            f"<p>{self.current_rows} rows against a reference of {self.reference_rows}. "
            f"Drifted share (weighted): {self.drifted_share:.1%}; threshold {self.share_threshold:.0%}.</p>"
            f"{verdict}<table><tr><th>column</th><th>statistic</th><th>value</th><th>threshold</th>"
            f"<th>p-value</th><th>missing</th><th>drift</th><th>reference (grey) vs batch (red)</th></tr>"
            f"{''.join(rows)}</table>"
        )


def _bars_svg(f: FeatureDrift, width: int = 240, height: int = 40) -> str:
    ref, cur = f.histogram.get("reference", []), f.histogram.get("current", [])
    if not ref:
        return ""
    top = max(max(ref), max(cur), 1e-9)
    w = width / len(ref)
    bars = []
    for i, (r, c) in enumerate(zip(ref, cur, strict=True)):
        for j, (v, color) in enumerate(((r, "#999"), (c, "#d33"))):
            h = height * v / top
            bars.append(
                f'<rect x="{i * w + j * w / 2:.1f}" y="{height - h:.1f}" '
                f'width="{w / 2:.1f}" height="{h:.1f}" fill="{color}"/>'
            )
    return f'<svg width="{width}" height="{height}">{"".join(bars)}</svg>'


@dataclass(frozen=True)
class RetrainDecision:
    """Whether to retrain, and why, in words."""

    retrain: bool
    reasons: list[str] = field(default_factory=list)


def compute_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    spec: DatasetSpec,
    policy: DriftPolicy,
    importance: dict[str, float] | None = None,
    batch: int = 0,
) -> DriftReport:
    """Compare every feature (and the target, when labelled) of ``current`` to ``reference``."""
    features = []
    for col in spec.feature_names:
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
    weights = _weights(spec.feature_names, importance if policy.use_importance else None)
    return DriftReport(
        spec.name, batch, len(reference), len(current), features, target, weights, policy.share_threshold
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


def decide(
    report: DriftReport | None,
    policy: DriftPolicy,
    spec: DatasetSpec,
    *,
    has_champion: bool,
    champion_score: float | None = None,
) -> RetrainDecision:
    """The dataset-level policy: retrain for no champion, target drift, enough drifted
    (importance-weighted) features, or a champion metric past the floor."""
    if not has_champion or report is None:
        return RetrainDecision(True, ["no champion yet"])
    reasons = []
    if report.target is not None and report.target.any_drift:
        t = report.target
        reasons.append(f"target {t.column!r} drifted ({t.statistic} {t.value:.3f} >= {t.threshold}, p={t.p_value:.2g})")
    if report.dataset_drift:
        reasons.append(
            f"drifted features {', '.join(report.drifted)} carry {report.drifted_share:.0%} of the "
            f"importance (threshold {report.share_threshold:.0%})"
        )
    if (
        policy.metric_floor is not None
        and champion_score is not None
        and spec.better(policy.metric_floor, champion_score)
    ):
        reasons.append(
            f"champion {spec.metric.name} {champion_score:.4g} is worse than the floor {policy.metric_floor}"
        )
    if reasons:
        return RetrainDecision(True, reasons)
    drifted = ", ".join(report.drifted) or "none"
    return RetrainDecision(
        False,
        [
            f"no drift that matters: drifted features ({drifted}) carry {report.drifted_share:.0%} of the "
            f"importance, below {report.share_threshold:.0%}; target stable"
        ],
    )


@task(name="detect-drift", task_run_name="drift-{batch}", cache_policy=NO_CACHE)
def drift_task(
    lake: Lake,
    spec: DatasetSpec,
    batch: int,
    reference: pd.DataFrame,
    policy: DriftPolicy,
    importance: dict[str, float] | None,
) -> DriftReport:
    current = lake.read_batch(spec.name, batch).drop(columns=[SPLIT_COLUMN], errors="ignore")
    return compute_drift(reference, current, spec, policy, importance, batch)


def log_drift_run(experiment_id: str, report: DriftReport, decision: RetrainDecision) -> str:
    """Log the report to MLflow as its own run (metrics per feature, JSON + HTML); the run id."""
    import mlflow

    payload = report.to_dict() | {"decision": asdict(decision)}
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"drift-{report.dataset}-batch-{report.batch}") as run:
        mlflow.set_tags(
            {
                "driftgate.kind": "drift",
                "driftgate.batch": str(report.batch),
                "driftgate.retrain": str(decision.retrain),
                "driftgate.reasons": "; ".join(decision.reasons),
            }
        )
        mlflow.log_metric("drifted_share", report.drifted_share)
        for f in [*report.features, *([report.target] if report.target else [])]:
            mlflow.log_metric(f"drift_{f.column}_{f.statistic.split('/')[0]}", f.value)
        mlflow.log_dict(json.loads(json.dumps(payload, default=float)), "drift/report.json")
        mlflow.log_text(report.to_html(decision), "drift/report.html")
    return str(run.info.run_id)


def publish_drift(lake: Lake, report: DriftReport, decision: RetrainDecision) -> str:
    """Store the report (JSON + HTML) in the lake and show it in the Prefect UI."""
    base = lake.path("reports", "drift", report.dataset)
    payload = report.to_dict() | {"decision": asdict(decision)}
    lake.write_bytes(f"{base}/{report.batch}.json", json.dumps(payload, indent=2, default=float).encode())
    lake.write_bytes(f"{base}/{report.batch}.html", report.to_html(decision).encode())
    create_markdown_artifact(
        report.to_markdown(decision), key=f"drift-{report.dataset}-{report.batch}".lower().replace("_", "-")
    )
    return lake.uri("reports", "drift", report.dataset, f"{report.batch}.html")
