"""The champion gate: a challenger becomes champion only if it is better on the same rows, with confidence.

Both models are scored on every labelled row neither trained on (the test rows of the window's
batches) and compared with a paired test (:mod:`driftgate.tasks.evaluate._compare`): DeLong for a binary
ROC AUC, a paired bootstrap otherwise. Three outcomes (:class:`Outcome`): **promoted** (the lower
bound of the improvement clears the relative margin, and no slice is confidently worse beyond
it), **not better** (the upper bound does not clear it, or a slice blocks), **inconclusive** (too
few rows or too wide an interval; the champion stays and the reason says how many more rows
would likely decide it). A first model is promoted without a comparison but is compared with a
baseline (majority class / mean of the same rows); when it does not clear it, the gate logs a
warning and says so in the reason and the tags.

Recorded on the challenger's MLflow run (the names the report pages read):

- metrics: ``gate_challenger_<metric>``, ``gate_champion_<metric>``, ``gate_diff``, ``gate_ci_low``,
  ``gate_ci_high`` (challenger minus champion, raw metric units), ``gate_rows``,
  ``gate_slices_checked``, ``gate_baseline_<metric>`` (first model only);
- tags: ``driftgate.gate.outcome`` (promoted / not better / inconclusive), ``driftgate.gate.promoted``
  (True/False), ``driftgate.gate.reason``, ``driftgate.gate.test``, ``driftgate.gate.confidence``,
  ``driftgate.gate.margin``, ``driftgate.gate.batches`` (JSON list), ``driftgate.gate.slices`` (JSON
  list of ``feature=level`` checked), ``driftgate.gate.blocking`` (JSON list of the slices that
  blocked), ``driftgate.gate.baseline`` (cleared / not cleared; first model only);
- artifact ``gate.json``: the whole :class:`GateResult`, every slice with its interval.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from driftgate.errors import ModelLoadError
from driftgate.models.model_loader import check_servable
from driftgate.names import artifact_key
from driftgate.policies import GatePolicy, Question
from driftgate.models.predict import Predictions, predict
from driftgate.registry.client import CHALLENGER, champion_version, load_version, set_champion
from driftgate.dataset.spec import DatasetSpec
from driftgate.tasks._fault_point import fault_point
from driftgate.tasks.evaluate import (
    Difference,
    Outcome,
    choose_test,
    paired_differences,
    positive_class,
    rows_to_decide,
)
from driftgate.tasks.gate._result import GateResult, SliceCheck
from driftgate.tasks.policy import REGISTRY_RETRIES
from driftgate.tasks.train import split_xy

log = logging.getLogger(__name__)
__all__ = [
    "GatePolicy",
    "GateResult",
    "Outcome",
    "Question",
    "SliceCheck",
    "evaluate_challenger",
    "gate",
    "gate_task",
    "judge",
]


def baseline(spec: DatasetSpec, y: pd.Series, like: Predictions) -> Predictions:
    """The no-skill model on the same rows: class frequencies (majority label), or the mean."""
    n = len(y)
    if spec.task == "regression":
        return Predictions(np.full(n, float(np.mean(y.astype(float)))), None, [])
    truth = np.asarray(y).astype(str)
    freq = np.array([(truth == str(c)).mean() for c in like.classes])
    majority = np.asarray(like.classes, dtype=object)[int(freq.argmax())]
    return Predictions(np.full(n, majority, dtype=object), np.tile(freq, (n, 1)), like.classes)


def judge(
    overall: Difference,
    slices: list[SliceCheck],
    maximize: bool,
    policy: GatePolicy,
    question: Question = Question.SUPERIORITY,
) -> tuple[Outcome, str, int | None]:
    """Pure decision from the paired differences: the outcome, one sentence why, rows that would decide.

    Superiority promotes when the improvement's lower bound clears ``margin`` (relative to the
    champion's score); non-inferiority when it is above ``-noninferiority_margin``.
    """
    _point, lo, hi = overall.improvement(maximize)
    needed = policy.threshold(question) * abs(overall.champion)
    better = "higher" if maximize else "lower"
    pct = f"{policy.confidence:.0%}"
    if overall.rows < policy.slice_min_rows:
        return (
            Outcome.INCONCLUSIVE,
            f"only {overall.rows} evaluation rows (the gate needs {policy.slice_min_rows}): the champion stays",
            policy.slice_min_rows - overall.rows,
        )
    if not (lo == lo and hi == hi):
        return Outcome.INCONCLUSIVE, "the metric is undefined on these rows: the champion stays", None
    interval = f"[{overall.ci_low:+.4g}, {overall.ci_high:+.4g}]"
    span = f"{overall.difference:+.4g} ({pct} interval {interval}, {better} is better)"
    if lo > needed:
        blocking = [s for s in slices if s.worse]
        if blocking:
            names = "; ".join(s.describe() for s in blocking)
            return Outcome.NOT_BETTER, f"better overall by {span} but worse on {names}: the champion stays", None
        if question is Question.NONINFERIORITY:
            return (
                Outcome.PROMOTED,
                f"challenger not worse (non-inferiority): difference {span} stays above {needed:.4g}",
                None,
            )
        return Outcome.PROMOTED, f"challenger better by {span}, clearing the margin of {needed:.4g}", None
    if hi <= needed:
        if question is Question.NONINFERIORITY:
            return (
                Outcome.NOT_BETTER,
                f"challenger worse (non-inferiority): difference {span} is below {needed:.4g}",
                None,
            )
        return (
            Outcome.NOT_BETTER,
            f"challenger not better: difference {span} does not clear the margin of {needed:.4g}",
            None,
        )
    more = rows_to_decide(overall, needed, maximize)
    tail = f"; about {more} more rows would likely decide it" if more is not None else ""
    return (
        Outcome.INCONCLUSIVE,
        f"inconclusive: difference {span} straddles the margin of {needed:.4g}{tail}; the champion stays",
        more,
    )


def slice_groups(spec: DatasetSpec, rows: pd.DataFrame, min_rows: int) -> dict[str, tuple[str, str, np.ndarray]]:
    """Boolean masks of the levels of each categorical feature that have at least ``min_rows`` rows."""
    out = {}
    for col in spec.categorical:
        values = rows[col].astype(str).to_numpy()
        levels, counts = np.unique(values[rows[col].notna().to_numpy()], return_counts=True)
        for level, count in zip(levels, counts, strict=True):
            if count >= min_rows:
                out[f"{col}={level}"] = (col, str(level), values == level)
    return out


def evaluate_challenger(
    spec: DatasetSpec,
    rows: pd.DataFrame,
    challenger: Predictions,
    champion: Predictions | None,
    *,
    policy: GatePolicy,
    batches: list[int] | None = None,
    question: Question = Question.SUPERIORITY,
) -> GateResult:
    """The gate's verdict from both models' predictions of ``rows`` (pure: no registry, no I/O).

    Args:
        spec: the dataset spec (target, categorical features, primary metric and its direction).
        rows: the labelled evaluation rows.
        challenger: the challenger's predictions of ``rows``.
        champion: the champion's predictions of ``rows``, or None when there is no champion.
        policy: margin, confidence, smallest slice, resamples, seed.
        batches: the batch numbers the rows come from (recorded).
        question: superiority (better than the champion) or non-inferiority (not worse by more
            than ``policy.noninferiority_margin``); a first model is compared with the baseline either way.
    """
    metric, maximize = spec.metric.name, spec.metric.direction == "maximize"
    y = rows[spec.target].to_numpy()
    pos = positive_class(spec, classes=challenger.classes) if spec.task == "classification" else None
    everything = np.ones(len(rows), dtype=bool)
    groups = slice_groups(spec, rows, policy.slice_min_rows) if champion is not None else {}
    masks = {"all": everything, **{k: m for k, (_, _, m) in groups.items()}}
    reference = champion if champion is not None else baseline(spec, rows[spec.target], challenger)
    diffs = paired_differences(
        metric,
        y,
        reference,
        challenger,
        masks,
        resamples=policy.resamples,
        confidence=policy.confidence,
        seed=policy.seed,
        positive=pos,
    )
    d = diffs["all"]
    result = GateResult(
        metric,
        maximize,
        Outcome.PROMOTED,
        "",
        d.challenger,
        None,
        None,
        None,
        None,
        policy.confidence,
        policy.margin if question is Question.SUPERIORITY else policy.noninferiority_margin,
        choose_test(metric, challenger),
        len(rows),
        list(batches or []),
        question=question if champion is not None else Question.SUPERIORITY,
    )
    if champion is None:
        cleared = d.improvement(maximize)[1] > 0
        versus = f"{metric} {d.challenger:.4g} vs baseline {d.champion:.4g} (majority class / mean of the same rows)"
        reason = f"no champion to beat: the challenger becomes champion; {versus}: " + (
            "baseline cleared" if cleared else "WARNING: it does NOT clear the no-skill baseline"
        )
        if not cleared:
            log.warning("first model does not beat the no-skill baseline: %s", reason)
        return replace(result, reason=reason, baseline_score=d.champion, baseline_cleared=bool(cleared))
    checks = []
    for key, (col, level, _) in groups.items():
        s = diffs[key]
        # confidently worse beyond the margin (the wider of the two under non-inferiority)
        worse = s.improvement(maximize)[2] < -max(policy.margin, -policy.threshold(question)) * abs(s.champion)
        checks.append(SliceCheck(col, level, s, bool(worse)))
    outcome, reason, more = judge(d, checks, maximize, policy, question)
    return replace(
        result,
        outcome=outcome,
        reason=reason,
        champion_score=d.champion,
        difference=d.difference,
        ci_low=d.ci_low,
        ci_high=d.ci_high,
        slices=checks,
        more_rows=more,
    )


def usable_champion(spec: DatasetSpec, name: str, current: ModelVersion | None) -> Any | None:
    """The champion's model; None when there is none or it no longer loads (then any servable model replaces it)."""
    if current is None:
        return None
    try:
        return load_version(name, current.version, spec)
    except ModelLoadError as exc:
        log.warning("champion of %s (version %s) no longer loads: %s", name, current.version, exc)
        return None


def refuse_unservable(client: MlflowClient, spec: DatasetSpec, name: str, version: str, run_id: str) -> None:
    """Fail the training run of a version the service would refuse (:func:`check_servable`), with the reason.

    Raises:
        ModelLoadError: the version cannot be served; ``champion`` is not moved.
    """
    try:
        check_servable(name, version, spec)
    except ModelLoadError as exc:
        client.set_tag(run_id, "driftgate.refused", str(exc)[:4000])
        client.set_terminated(run_id, status="FAILED")
        log.error("not promoting %s version %s: %s", name, version, exc)
        raise


def gate(
    client: MlflowClient,
    spec: DatasetSpec,
    name: str,
    challenger_version: str,
    *,
    model: Any,
    run_id: str,
    rows: pd.DataFrame,
    policy: GatePolicy | None = None,
    batches: list[int] | None = None,
    question: Question = Question.SUPERIORITY,
) -> GateResult:
    """Score challenger and champion on ``rows``, decide, move the aliases, record the comparison.

    Args:
        rows: labelled rows neither model trained on (the window's test rows).
        policy: the gate's policy (default: :class:`GatePolicy` defaults).
        batches: the batch numbers of ``rows`` (recorded).
        question: superiority or non-inferiority (:class:`Question`), chosen by the retrain's trigger.
    """
    policy = policy or GatePolicy()
    client.set_registered_model_alias(name, CHALLENGER, challenger_version)
    X, _ = split_xy(rows, spec)
    current = champion_version(client, name)
    champion_model = usable_champion(spec, name, current)
    champ = predict(champion_model, spec.task, X) if champion_model is not None else None
    result = evaluate_challenger(
        spec, rows, predict(model, spec.task, X), champ, policy=policy, batches=batches, question=question
    )
    result = replace(result, challenger=str(challenger_version), champion=str(current.version) if current else None)
    settle(client, spec, name, challenger_version, run_id=run_id, result=result, current=current)
    log.info("gate for %s v%s: %s: %s", name, challenger_version, result.outcome, result.reason)
    return result


def settle(
    client: MlflowClient,
    spec: DatasetSpec,
    name: str,
    version: str,
    *,
    run_id: str,
    result: GateResult,
    current: ModelVersion | None,
) -> None:
    """Act on a verdict: a promoted challenger must be servable; the verdict is logged on the
    challenger's run; then ``champion`` moves by compare-and-set against ``current`` (the champion
    it was compared with).

    The record comes first: a process killed between the two leaves a verdict whose alias never
    moved (the rerun trains and gates again), never a champion without its gate record.
    """
    if result.promoted:
        refuse_unservable(client, spec, name, version, run_id)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(result.mlflow_metrics())
        mlflow.set_tags(result.mlflow_tags())
        mlflow.log_dict(asdict(result), "gate.json")
    if result.promoted:
        fault_point("before_alias")
        set_champion(client, name, version, expected=str(current.version) if current else None)
        fault_point("after_alias")


def publish_gate(client: MlflowClient, spec: DatasetSpec, name: str, result: GateResult, links: dict[str, str]) -> None:
    """The verdict where people look: the version's registry description and a Prefect artifact with links."""
    version = str(result.challenger)
    describe_gate(client, name, version, result)
    listed = "\n".join(f"- {label}: {url}" for label, url in links.items())
    create_markdown_artifact(f"{result.to_markdown()}\n\n{listed}\n", key=artifact_key("gate", spec.name, "v", version))


def describe_gate(client: MlflowClient, name: str, version: str, result: GateResult) -> None:
    """Append the gate's verdict (outcome, scores, interval, test, rows) to the version's registry description."""
    mv = client.get_model_version(name, version)
    where = f"{result.question}; {result.rows} test rows of batches {', '.join(map(str, result.batches)) or '-'}"
    where += f"; {result.test}"
    verdict = f"Gate: {result.outcome} ({where}): {result.reason}"
    client.update_model_version(name, version, description=f"{mv.description or ''}\n{verdict}")


def run_links(tracking_uri: str, service_url: str, experiment_id: str, run_id: str, version: str) -> dict[str, str]:
    """Where a person finds the version: its MLflow run and its SHAP report page on the service."""
    run = (
        f"{tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
        if tracking_uri.startswith("http")
        else f"runs:/{run_id} (mlflow ui --backend-store-uri {tracking_uri})"
    )
    return {"MLflow run": run, "SHAP report": f"{service_url.rstrip('/')}/reports/{version}"}


# --- Prefect wrappers ------------------------------------------------------------------


@task(name="champion-gate", task_run_name="gate-{spec.name}-v{version}", cache_policy=NO_CACHE, **REGISTRY_RETRIES)
def gate_task(
    client: MlflowClient,
    spec: DatasetSpec,
    model_name: str,
    version: str,
    *,
    model: Any,
    run_id: str,
    rows: pd.DataFrame,
    policy: GatePolicy,
    links: dict[str, str],
    batches: list[int],
    question: Question = Question.SUPERIORITY,
) -> GateResult:
    """Gate ``version`` on ``rows`` (the window's test rows, from ``batches``); record it everywhere."""
    result = gate(
        client,
        spec,
        model_name,
        version,
        model=model,
        run_id=run_id,
        rows=rows,
        policy=policy,
        batches=batches,
        question=question,
    )
    publish_gate(client, spec, model_name, result, links)
    return result
