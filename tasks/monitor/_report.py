"""What monitor-predictions shows: live performance beside live drift, as Markdown, HTML and MLflow metrics."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from driftgate.pages.render import number, render_standalone

if TYPE_CHECKING:
    from driftgate.tasks.monitor._monitor import LiveDrift, Performance
    from driftgate.tasks.monitor._skew import SkewReport

log = logging.getLogger(__name__)


def _f(v: float | None) -> str:
    return number(v)


def performance_rows(perf: Performance, tests: dict[str, float] | None = None) -> list[list[str]]:
    """One row per version and role: rows, realized value, interval, estimate before labels, error, test score."""
    out = []
    tests = tests or {}
    for r in perf.realized:
        error = None if r.estimated is None else r.estimated - r.value
        test = tests.get(r.version, perf.test_score if r.version == perf.champion else None)
        out.append(
            [
                f"v{r.version}",
                r.role,
                number(r.rows),
                _f(r.value),
                f"{_f(r.low)} to {_f(r.high)}",
                _f(r.estimated),
                _f(error),
                _f(test),
            ]
        )
    return out


HEADER = [
    "version",
    "role",
    "labelled rows",
    "realized",
    "95% interval",
    "estimated (CBPE / DLE)",
    "estimate error",
    "test (at training)",
]


def _band(perf: Performance) -> str:
    if perf.estimated_low is None or perf.estimated_high is None:
        return ""
    return f" (95% band {_f(perf.estimated_low)} to {_f(perf.estimated_high)})"


def performance_markdown(perf: Performance) -> str:
    lines = [f"## Live performance ({perf.metric})", ""]
    if perf.estimated_live is not None:
        lines += [
            f"Estimated {perf.metric} of champion v{perf.champion} on {perf.estimated_rows} new live rows "
            f"(no labels needed, {perf.estimator}): **{_f(perf.estimated_live)}**{_band(perf)}",
            "",
        ]
    if perf.realized:
        lines += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(row) + " |" for row in performance_rows(perf)]
    else:
        lines.append("No labelled predictions yet (POST /feedback).")
    if perf.paired is not None:
        p = perf.paired
        lines += [
            "",
            f"Shadow challenger v{p.challenger} vs champion v{p.champion} on the same {p.rows} labelled "
            f"rows: {_f(p.challenger_value)} vs {_f(p.champion_value)} (difference 95% interval {_f(p.low)} "
            f"to {_f(p.high)})",
        ]
    if perf.live_gate is not None:
        g, look = perf.live_gate.result, perf.live_gate.look
        lines += [
            "",
            f"Gate on fresh labelled live rows (look {look}), v{g.challenger} vs v{g.champion}: "
            f"**{g.outcome}**: {g.reason}",
        ]
    lines += ["", f"Live performance asks for a retrain: **{'yes' if perf.decision.retrain else 'no'}**"]
    lines += [f"- {r}" for r in perf.decision.reasons]
    return "\n".join(lines)


def test_scores(client: MlflowClient, model_name: str, perf: Performance) -> dict[str, float]:
    """Each version's test score of the primary metric (as logged at training), for the performance table."""
    out: dict[str, float] = {}
    for version in {r.version for r in perf.realized}:
        try:
            run_id = client.get_model_version(model_name, version).run_id
            value = client.get_run(run_id).data.metrics.get(f"test_{perf.metric}") if run_id else None
        except MlflowException:
            continue
        if value is not None:
            out[version] = float(value)
    return out


@dataclass(frozen=True)
class MonitorRun:
    """What one monitor run did beyond measuring: when, whether it may start a retrain, what the live gate moved."""

    dataset: str
    checked_at: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    trigger: bool | None = None  # None: not known to the page (the flow decides after publishing)
    promoted: str | None = None
    feedback_batch: int | None = None
    feedback_rows: int | None = None
    tests: dict[str, float] = field(default_factory=dict)
    probation: dict[str, Any] | None = None  # the look at the champion's probation (ProbationSummary's fields)
    rolled_back: str | None = None  # the version champion moved back to
    skew: SkewReport | None = None  # logged answers re-scored by the versions that gave them


def actions(drift: LiveDrift, perf: Performance, run: MonitorRun) -> list[str]:
    """What the run did (or leaves to do), in words: never "retrain" on a run that may not start one."""
    done = []
    if run.rolled_back:
        done.append(f"rolled champion back from version {perf.champion} to version {run.rolled_back} (probation)")
    if run.promoted:
        done.append(f"the live gate promoted version {run.promoted} to champion")
    wants = drift.decision.retrain or (perf.decision.retrain and run.promoted is None and run.rolled_back is None)
    if wants and run.trigger is True:
        done.append("started continuous-training to retrain the champion")
    elif wants and run.trigger is False:
        done.append("a retrain is due, but this run was started with --no-trigger: no retrain was started")
    elif wants:
        done.append("a retrain is due: monitor-predictions starts continuous-training unless run with --no-trigger")
    if run.feedback_batch is not None:
        rows = f"{number(run.feedback_rows)} labelled live rows" if run.feedback_rows is not None else "labelled rows"
        done.append(f"stored {rows} as feedback batch {run.feedback_batch}")
    return done or ["nothing to do: no retrain asked for, no promotion"]


def monitor_summary(drift: LiveDrift, perf: Performance, run: MonitorRun) -> dict[str, Any]:
    """The run in a few fields (``reports/monitor/<dataset>/*.json``): what the console's monitor card tells."""
    g = perf.live_gate
    return {
        "checked_at": run.checked_at,
        "dataset": run.dataset,
        "champion": perf.champion,
        "new_predictions": len(drift.rows),
        "checked": drift.checked,
        "last_id": drift.last_id,
        "drift_share": drift.report.drifted_share if drift.report else None,
        "drifted": drift.report.drifted if drift.report else [],
        "drift_retrain": drift.decision.retrain,
        "performance_retrain": perf.decision.retrain,
        "reasons": drift.decision.reasons + perf.decision.reasons,
        "metric": perf.metric,
        "estimated": perf.estimated_live,
        "estimated_rows": perf.estimated_rows,
        "estimator": perf.estimator,
        "estimated_low": perf.estimated_low,
        "estimated_high": perf.estimated_high,
        "realized": [
            {
                "version": r.version,
                "role": r.role,
                "rows": r.rows,
                "value": r.value,
                "low": r.low,
                "high": r.high,
                "estimated": r.estimated,
                "test": run.tests.get(r.version),
            }
            for r in perf.realized
        ],
        "live_gate": None
        if g is None
        else {
            "challenger": g.result.challenger,
            "champion": str(g.result.champion),
            "look": g.look,
            "outcome": str(g.result.outcome),
            "reason": g.result.reason,
        },
        "probation": run.probation,
        "rolled_back": run.rolled_back,
        "skew": None
        if run.skew is None
        else {
            "checked": run.skew.checked,
            "mismatched": run.skew.mismatched,
            "versions": run.skew.versions,
            "skipped": run.skew.skipped,
            "summary": run.skew.describe(),
            "rows": [
                {
                    "id": m.id,
                    "prediction_id": m.prediction_id,
                    "version": m.version,
                    "logged": m.logged,
                    "rescored": m.rescored,
                    "difference": m.difference,
                }
                for m in run.skew.rows
            ],
        },
        "actions": actions(drift, perf, run),
    }


def monitor_page(drift: LiveDrift, perf: Performance, run: MonitorRun | None = None) -> str:
    """One page: when it ran, what it did, live performance per version, the live-input drift."""
    run = run or MonitorRun(dataset=drift.report.dataset if drift.report else "")
    what = f"predictions up to #{number(drift.last_id)}" if drift.last_id else "live performance"
    return render_standalone(
        "report_monitor.html",
        title=f"Monitor of {run.dataset or 'the champion'}: {what}",
        drift=drift,
        perf=perf,
        run=run,
        summary=monitor_summary(drift, perf, run),
        performance=performance_rows(perf, run.tests),
        header=HEADER,
        drift_rows=drift.report.chart_rows() if drift.report else [],
    )


def log_performance(client: MlflowClient, model_name: str, perf: Performance, step: int) -> None:
    """Realized (and estimated) metrics on each version's own MLflow run, at ``step``."""
    for r in perf.realized:
        try:
            run_id = client.get_model_version(model_name, r.version).run_id
        except MlflowException:
            continue
        if not run_id or r.value != r.value:
            continue
        prefix = "realized" if r.role == "champion" else f"realized_{r.role}"
        client.log_metric(run_id, f"{prefix}_{r.metric}", r.value, step=step)
        client.log_metric(run_id, f"{prefix}_rows", float(r.rows), step=step)
        if r.estimated is not None:
            client.log_metric(run_id, f"estimated_{r.metric}", r.estimated, step=step)
    if perf.estimated_live is not None and perf.champion is not None:
        try:
            run_id = client.get_model_version(model_name, perf.champion).run_id
        except MlflowException:
            return
        if run_id:  # the estimate on the unlabelled live rows (CBPE or DLE), and DLE's band
            m = perf.metric
            live = {f"estimated_live_{m}": perf.estimated_live, "estimated_live_rows": float(perf.estimated_rows)}
            if perf.estimated_low is not None and perf.estimated_high is not None:
                live |= {f"estimated_live_low_{m}": perf.estimated_low, f"estimated_live_high_{m}": perf.estimated_high}
            for key, value in live.items():
                client.log_metric(run_id, key, value, step=step)
