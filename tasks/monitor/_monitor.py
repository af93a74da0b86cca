"""Stage ``monitor``: live predictions against the champion.

Input drift of the logged inputs (since the last check), realized performance per version from
labels sent to ``/feedback``, the label-free estimate of the champion's metric (CBPE), the shadow
challenger against the champion on the same labelled rows (and the gate's verdict on them, which
may promote it: :mod:`driftgate.tasks.gate._live`), and labelled live rows turned into a
``feedback`` batch of the lake exactly once. Plain functions first; Prefect tasks at the end.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from driftgate.context import Context
from driftgate.dataset.frames import SPLIT_COLUMN, normalize
from driftgate.dataset.spec import DatasetSpec
from driftgate.errors import ChampionMovedError, ModelLoadError
from driftgate.models.predict import predict
from driftgate.names import FIT_TAG, artifact_key
from driftgate.policies import DriftPolicy, GatePolicy, MonitorPolicy
from driftgate.registry.client import importance, lineage, load_version
from driftgate.stores.predictions_db import CHAMPION_ROLE, read_labelled, read_predictions
from driftgate.tasks.drift import DriftReport, RetrainDecision, compute_drift, decide
from driftgate.tasks.evaluate import (
    Paired,
    Realized,
    RealizedDecision,
    compare_on_live,
    decide_realized,
    positive_class,
    realized_metrics,
)
from driftgate.tasks.gate import LiveLook, challenger_alias, earlier_looks, gate_on_live, promote_on_live
from driftgate.tasks.monitor._announce import announce_degraded, announce_live_drift, announce_live_promotion
from driftgate.tasks.monitor._dle import SUPPORTED as DLE_METRICS
from driftgate.tasks.monitor._dle import LossModel, fit_loss_model
from driftgate.tasks.monitor._estimate import Calibration, estimate_outputs, fit_calibration, fit_multiclass_calibration
from driftgate.tasks.monitor._feedback import FeedbackBatch, store_feedback_batch
from driftgate.tasks.monitor._probation import ProbationLook
from driftgate.tasks.monitor._report import (
    MonitorRun,
    log_performance,
    monitor_page,
    monitor_summary,
    performance_markdown,
    test_scores,
)
from driftgate.tasks.monitor._skew import SkewReport, check_skew, live_inputs
from driftgate.tasks.train import reference_rows, split_rows

log = logging.getLogger(__name__)


@dataclass
class LiveDrift:
    """Input drift of the predictions logged since the last check (``checked`` once enough arrived)."""

    rows: list[dict[str, Any]]
    checked: bool = False
    report: DriftReport | None = None
    decision: RetrainDecision = field(default_factory=lambda: RetrainDecision(False, []))
    last_id: int | None = None


def check_live_drift(
    ctx: Context,
    client: MlflowClient,
    mv: ModelVersion | None,
    min_rows: int,
    *,
    policy: DriftPolicy,
    reference_max_rows: int | None = None,
) -> LiveDrift:
    """Compare the champion's live inputs since the checkpoint with its training rows; move the checkpoint.

    ``reference_max_rows``: past this many training rows, a seeded sample of them (a champion trained
    on a Dask cluster has a window this process must not hold whole).
    """
    ds = ctx.spec.name
    state_path = ctx.lake.path("state", ds, "monitor.json")
    state = ctx.lake.read_json(state_path) or {"last_id": 0}
    logged = read_predictions(ctx.predictions_db, since_id=int(state["last_id"]))
    rows = [r for r in logged if r["model_name"] == ctx.model_name and r.get("role", CHAMPION_ROLE) == CHAMPION_ROLE]
    out = LiveDrift(rows)
    if len(rows) < min_rows:
        out.decision = RetrainDecision(False, [f"{len(rows)} new predictions, waiting for {min_rows}"])
        return out
    if mv is None:
        out.decision = RetrainDecision(False, ["no champion to compare live inputs with"])
        return out
    reference = reference_rows(ctx.lake, ctx.spec, lineage(client, mv), max_rows=reference_max_rows)
    live = normalize(live_inputs(rows, ctx.spec.feature_names), ctx.spec)
    # the champion explains the live rows too (attribution drift), when its version was explained
    weights = importance(client, mv)
    model = load_version(ctx.model_name, mv.version, ctx.spec) if weights and policy.attribution_rows > 0 else None
    out.report = compute_drift(
        reference[ctx.spec.feature_names], live, ctx.spec, policy, importance=weights, model=model
    )
    out.decision = decide(out.report, policy, ctx.spec, has_champion=True)
    out.checked, out.last_id = True, int(logged[-1]["id"])
    ctx.lake.write_json(state_path, {"last_id": out.last_id, "champion": str(mv.version)})
    return out


def held_out_rows(ctx: Context, client: MlflowClient, mv: ModelVersion) -> pd.DataFrame | None:
    """Labelled rows the champion never trained on: the validation rows of its training batches.

    With a time order the rows are out of time: the validation rows are then the latest but one slice
    of each batch, and a champion refitted on every row of its window (run tag ``driftgate.fit``)
    uses the accepted batches that arrived after its window instead (None until one has).
    """
    refs = [r for r in lineage(client, mv) if ctx.lake.manifest(ctx.spec.name, r.number)]
    if not refs:
        return None
    if ctx.spec.time_ordered and mv.run_id and FIT_TAG in client.get_run(mv.run_id).data.tags:
        last = max(r.number for r in refs)
        later = [n for n in ctx.lake.accepted_numbers(ctx.spec.name) if n > last]
        if not later:
            log.info("version %s trained on every row of its window; no later batch to calibrate on yet", mv.version)
            return None
        rows = pd.concat([ctx.lake.read_batch(ctx.spec.name, n) for n in later]).drop(columns=[SPLIT_COLUMN])
    else:
        rows = split_rows(pd.concat([ctx.lake.read_batch(ctx.spec.name, r.number) for r in refs]), "validation")
    return None if rows.empty else rows


def champion_calibration(ctx: Context, client: MlflowClient, mv: ModelVersion) -> Calibration | None:
    """CBPE's calibration: the champion's probabilities on its held-out rows (:func:`held_out_rows`)."""
    if ctx.spec.task != "classification":
        return None
    rows = held_out_rows(ctx, client, mv)
    if rows is None:
        return None
    out = predict(load_version(ctx.model_name, mv.version), "classification", rows[ctx.spec.feature_names])
    classes = [str(c) for c in out.classes]
    if out.proba is None or len(classes) < 2:
        return None
    if len(classes) > 2:
        return fit_multiclass_calibration(out.proba, rows[ctx.spec.target].to_numpy(), classes)
    pos = str(positive_class(ctx.spec, classes=classes))
    if pos not in classes:
        return None
    return fit_calibration(out.proba[:, classes.index(pos)], rows[ctx.spec.target].to_numpy(), pos, classes)


def champion_loss_model(
    ctx: Context, client: MlflowClient, mv: ModelVersion, *, seed: int
) -> tuple[Any, LossModel] | None:
    """DLE's loss models, fitted on the champion's held-out rows, with the champion; None for classifiers."""
    if ctx.spec.task != "regression" or ctx.spec.metric.name not in DLE_METRICS:
        return None
    rows = held_out_rows(ctx, client, mv)
    if rows is None:
        return None
    champion = load_version(ctx.model_name, mv.version)
    loss = fit_loss_model(champion, ctx.spec, rows, seed=seed)
    return None if loss is None else (champion, loss)


@dataclass
class Performance:
    """Realized (per version and role), estimated (champion, live) and paired (shadow) performance."""

    metric: str
    champion: str | None
    test_score: float | None
    realized: list[Realized]
    decision: RealizedDecision
    estimated_live: float | None = None
    estimated_rows: int = 0
    estimator: str = "CBPE"  # how the estimate was made: CBPE (classifiers), DLE (regressors)
    estimated_low: float | None = None  # DLE's band of the estimate (sampling noise of the live rows)
    estimated_high: float | None = None
    paired: Paired | None = None
    live_gate: LiveLook | None = None  # the gate's look at the shadow challenger's fresh labelled live rows

    def champion_realized(self) -> Realized | None:
        return next((r for r in self.realized if r.version == self.champion and r.role == CHAMPION_ROLE), None)


def measure_performance(
    ctx: Context,
    client: MlflowClient,
    mv: ModelVersion | None,
    live: list[dict[str, Any]],
    *,
    policy: MonitorPolicy,
    gate_policy: GatePolicy,
) -> Performance:
    """Realized metrics, the champion's estimate on unlabelled live rows, the decision they lead to."""
    p, spec = policy, ctx.spec
    labelled = read_labelled(ctx.predictions_db, ctx.model_name, limit=p.window * 4)
    realized = realized_metrics(spec, labelled, p.window, p.bootstrap, p.seed)
    champion = str(mv.version) if mv else None
    test = client.get_run(mv.run_id).data.metrics.get(f"test_{spec.metric.name}") if mv and mv.run_id else None
    perf = Performance(spec.metric.name, champion, test, realized, RealizedDecision(False, ["no champion"]))
    if mv is None:
        return perf
    dle = champion_loss_model(ctx, client, mv, seed=p.seed)
    if dle is not None:
        estimate_losses(perf, spec, dle, live, labelled)
    cal = champion_calibration(ctx, client, mv)
    if cal is not None:
        mine = [r for r in live if str(r["model_version"]) == champion]
        perf.estimated_live, perf.estimated_rows = estimate_outputs(spec, cal, [r["output"] for r in mine]), len(mine)
        for i, r in enumerate(perf.realized):  # the estimate on the labelled rows, to set beside the truth
            if r.role == CHAMPION_ROLE and r.version == champion:
                group = [x for x in labelled if str(x["model_version"]) == r.version and x["role"] == r.role]
                perf.realized[i] = replace(
                    r, estimated=estimate_outputs(spec, cal, [x["output"] for x in group][-r.rows :])
                )
    perf.decision = decide_realized(spec, perf.champion_realized(), test, p.metric_floor, p.margin, p.min_labels)
    est = perf.estimated_live
    if p.estimate_trigger and est is not None and test is not None and perf.estimated_rows >= p.min_labels:
        bar = test - p.margin if spec.metric.direction == "maximize" else test + p.margin
        if spec.better(bar, est):
            why = f"estimated {spec.metric.name} {est:.4g} on {perf.estimated_rows} live rows is worse than {bar:.4g}"
            perf.decision = RealizedDecision(True, [*perf.decision.reasons, why])
    perf.paired = compare_on_live(spec, labelled, str(mv.version), p.bootstrap, p.seed)
    challenger = challenger_alias(client, ctx.model_name)
    if challenger is not None and challenger != str(mv.version):
        looks, last_row = earlier_looks(client, ctx.model_name, challenger)
        perf.live_gate = gate_on_live(
            spec, labelled, str(mv.version), challenger, policy=gate_policy, after_row=last_row, look=looks + 1
        )
    return perf


def estimate_losses(
    perf: Performance,
    spec: DatasetSpec,
    dle: tuple[Any, LossModel],
    live: list[dict[str, Any]],
    labelled: list[dict[str, Any]],
) -> None:
    """DLE's estimate on the champion's unlabelled live rows (with its band), and on each labelled group of
    the champion, to set beside the realized value."""
    champion, loss = dle
    mine = [r for r in live if str(r["model_version"]) == perf.champion]
    est = loss.estimate(champion, spec, normalize(live_inputs(mine, spec.feature_names), spec), spec.metric.name)
    if est is not None:
        perf.estimator, perf.estimated_rows = "DLE", est.rows
        perf.estimated_live, perf.estimated_low, perf.estimated_high = est.value, est.low, est.high
    for i, r in enumerate(perf.realized):
        if r.role == CHAMPION_ROLE and r.version == perf.champion:
            group = [x for x in labelled if str(x["model_version"]) == r.version and x["role"] == r.role][-r.rows :]
            frame = normalize(live_inputs(group, spec.feature_names), spec)
            on_labelled = loss.estimate(champion, spec, frame, spec.metric.name)
            perf.realized[i] = replace(r, estimated=on_labelled.value if on_labelled else None)


def promote_on_live_rows(ctx: Context, client: MlflowClient, perf: Performance, *, move: bool) -> str | None:
    """Record the live gate's verdict and move the alias when it promotes; the new champion, if any."""
    live = perf.live_gate
    if live is None:
        return None
    try:
        moved = promote_on_live(client, ctx.model_name, live, move=move, spec=ctx.spec)
    except (ChampionMovedError, ModelLoadError) as exc:  # moved while we compared, or unservable: nothing moves
        log.warning("live gate: %s", exc)
        return None
    except MlflowException as exc:  # recording failed: the rest of the monitor run goes on
        log.warning("live gate: could not record the verdict on version %s: %s", live.result.challenger, exc)
        return None
    if not moved:
        return None
    announce_live_promotion(ctx, live)
    return live.result.challenger


# --- Prefect wrappers ------------------------------------------------------------------


@task(name="live-drift", task_run_name="live-drift-{ctx.spec.name}", cache_policy=NO_CACHE)
def live_drift_task(
    ctx: Context,
    client: MlflowClient,
    mv: ModelVersion | None,
    min_rows: int,
    *,
    policy: DriftPolicy,
    reference_max_rows: int | None = None,
) -> LiveDrift:
    drift = check_live_drift(ctx, client, mv, min_rows, policy=policy, reference_max_rows=reference_max_rows)
    announce_live_drift(ctx, drift, str(mv.version) if mv else None)
    return drift


@task(name="check-skew", task_run_name="skew-{ctx.spec.name}", cache_policy=NO_CACHE)
def skew_task(ctx: Context, rows: list[dict[str, Any]], *, policy: MonitorPolicy) -> SkewReport | None:
    """Re-score a sample of the logged predictions with the versions that answered them (None: switched off)."""
    if policy.skew_rows <= 0:
        return None
    mine = [r for r in rows if r["model_name"] == ctx.model_name]
    report = check_skew(
        mine,
        ctx.spec,
        lambda version: load_version(ctx.model_name, version, ctx.spec),
        sample=policy.skew_rows,
        seed=policy.seed,
    )
    (log.warning if report.skewed else log.info)("skew: %s", report.describe())
    return report


@task(name="live-performance", task_run_name="live-performance-{ctx.spec.name}", cache_policy=NO_CACHE)
def performance_task(
    ctx: Context,
    client: MlflowClient,
    mv: ModelVersion | None,
    live: list[dict[str, Any]],
    *,
    policy: MonitorPolicy,
    gate_policy: GatePolicy,
) -> Performance:
    perf = measure_performance(ctx, client, mv, live, policy=policy, gate_policy=gate_policy)
    announce_degraded(ctx, perf, policy.min_labels)
    return perf


@task(name="live-gate", task_run_name="live-gate-{ctx.spec.name}", cache_policy=NO_CACHE)
def live_gate_task(ctx: Context, client: MlflowClient, perf: Performance, *, move: bool) -> str | None:
    return promote_on_live_rows(ctx, client, perf, move=move)


@task(name="feedback-batch", task_run_name="feedback-batch-{ctx.spec.name}", cache_policy=NO_CACHE)
def feedback_batch_task(ctx: Context, *, policy: MonitorPolicy) -> FeedbackBatch | None:
    return store_feedback_batch(
        ctx.lake,
        ctx.spec,
        ctx.predictions_db,
        ctx.model_name,
        suite_file=ctx.suite_file,
        min_rows=policy.min_labels,
        seed=policy.seed,
    )


@task(name="publish-monitor", task_run_name="publish-monitor-{ctx.spec.name}", cache_policy=NO_CACHE)
def publish_monitor_task(
    ctx: Context,
    client: MlflowClient,
    drift: LiveDrift,
    perf: Performance,
    batch: FeedbackBatch | None,
    *,
    trigger: bool | None = None,
    promoted: str | None = None,
    probation: ProbationLook | None = None,
    skew: SkewReport | None = None,
) -> str:
    """The report page and its summary in the lake (reports/monitor/), MLflow metrics per version, the Prefect
    artifact. ``trigger``: whether this run may start a retrain (the page says what it did)."""
    ds = ctx.spec.name
    step = drift.last_id or max((int(r["id"]) for r in drift.rows), default=0)
    name = f"upto-{drift.last_id}.html" if drift.last_id else "performance.html"
    run = MonitorRun(
        ds,
        trigger=trigger,
        promoted=promoted,
        feedback_batch=batch.number if batch else None,
        feedback_rows=batch.rows if batch else None,
        tests=test_scores(client, ctx.model_name, perf),
        probation=asdict(probation.summary()) if probation else None,
        rolled_back=probation.rolled_back_to if probation else None,
        skew=skew,
    )
    ctx.lake.write_bytes(ctx.lake.path("reports", "monitor", ds, name), monitor_page(drift, perf, run).encode())
    summary = json.dumps(monitor_summary(drift, perf, run), indent=2, default=str).encode()
    ctx.lake.write_bytes(ctx.lake.path("reports", "monitor", ds, name.removesuffix(".html") + ".json"), summary)
    log_performance(client, ctx.model_name, perf, step)
    parts = [
        f"# Live traffic of {ctx.model_name} v{perf.champion}",
        "",
        f"{len(drift.rows)} new predictions; input drift retrain: **{drift.decision.retrain}**",
        "",
        *[f"- {r}" for r in drift.decision.reasons],
        "",
    ]
    if skew is not None:
        parts += [f"Training-serving skew: {skew.describe()}", ""]
    if drift.report is not None:
        parts.append(drift.report.to_markdown(drift.decision))
    parts.append(performance_markdown(perf))
    if probation is not None:
        parts.append(f"\nProbation of version {probation.probation.champion}: **{probation.decision.action}**: ")
        parts[-1] += probation.decision.reason
    if batch is not None:
        parts.append(f"\nFeedback batch {batch.number}: {batch.rows} labelled live rows, accepted: {batch.accepted}")
    create_markdown_artifact("\n".join(parts), key=artifact_key("monitor", ds))
    return ctx.lake.uri("reports", "monitor", ds, name)
