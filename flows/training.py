"""Flow ``continuous-training``: ingest → validate → drift → decide → train → gate → explain.

The flow only orders task calls and branches on their typed results; the logic lives in the
stage modules under ``tasks/``. Each batch's :class:`BatchOutcome` is written to the lake, so a
rerun continues where the last run stopped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from functools import partial

from mlflow.tracking import MlflowClient
from prefect import flow
from prefect.runtime import flow_run

from driftgate.context import Context, build_context
from driftgate.dataset.frames import SPLIT_COLUMN
from driftgate.flows._announce import announce_drift, announce_trained, announce_verdict
from driftgate.flows._cluster import reference_cap, train_and_gate_on_cluster, uses_cluster, validation_cluster
from driftgate.flows.ingest import ingest_batches
from driftgate.policies import GatePolicy, Question
from driftgate.registry.client import champion_version, lineage
from driftgate.registry.tracking import configure_mlflow, experiment_id
from driftgate.settings import get_settings
from driftgate.stores.lease import dataset_lease
from driftgate.tasks.drift import Trigger, decide_task, drift_task
from driftgate.tasks.explain import explain_registered_task, explain_task
from driftgate.tasks.gate import GateResult, gate_task, run_links
from driftgate.tasks.loop import (
    BatchOutcome,
    Champion,
    LoadedChampion,
    Window,
    batch_rows,
    choose_window,
    forced_retrain,
    gate_question,
    growth_since,
    history_window,
    load_champion_task,
    next_batch_task,
    next_regime_start,
    publish_outcomes,
    quarantined,
    read_outcomes,
    record_outcome_task,
    tag_challenger,
    versions_to_score,
)
from driftgate.tasks.policy import registry_must_answer, registry_retried
from driftgate.tasks.train import TrainedVersion, TrainingData, load_window_task, split_rows, train_task
from driftgate.tasks.validate import validate_batch_task

log = logging.getLogger(__name__)
FORCED = "forced: a retrain was asked for (driftgate run --retrain, or the flow's retrain parameter)"


def last_outcome(ctx: Context, before: int) -> BatchOutcome | None:
    """The newest recorded outcome of a batch before ``before`` (it carries the regime's start)."""
    earlier = [o for o in read_outcomes(ctx.lake, ctx.spec.name) if o.batch < before]
    return earlier[-1] if earlier else None


def explain_unexplained(ctx: Context, client: MlflowClient, champ: Champion) -> Champion:
    """The champion with its SHAP explanation, logged now; in this process only (a champion trained
    on more than ``DRIFTGATE_DASK_MIN_ROWS`` rows with a cluster configured stays unexplained, with a
    warning: its window is the cluster's)."""
    trained_on = batch_rows(ctx.lake, ctx.spec.name, [b.number for b in lineage(client, champ.version)])
    if uses_cluster(ctx.settings, sum(trained_on.values())):
        log.warning("champion %s has no SHAP explanation; its window is too large to explain here", champ.number)
        return champ
    budget = ctx.settings.explain_settings()
    found = explain_registered_task(client, ctx.lake, ctx.spec, champ.version, champ.model, budget=budget)
    return replace(champ, importance=found)


def process_batch(
    ctx: Context, client: MlflowClient, experiment: str, number: int, loaded: LoadedChampion | None = None
) -> BatchOutcome:
    """One stored batch through the loop; its outcome is recorded in the lake.

    ``loaded``: the champion an earlier batch of the same run loaded, reused while it is still the champion.
    """
    lake, spec = ctx.lake, ctx.spec
    manifest = lake.manifest(spec.name, number)
    rows = manifest.rows if manifest else None
    previous = last_outcome(ctx, number)
    regime = previous.regime_start if previous else None
    if not validate_batch_task(lake, spec, number, ctx.suite_file, validation_cluster(ctx.settings)).success:
        current = champion_version(client, ctx.model_name)
        out = quarantined(number, rows, str(current.version) if current else None)
        out.regime_start = regime
        return record_outcome_task(lake, spec.name, out)

    policy = ctx.settings.drift_policy()
    # past one machine the champion's lineage is a window the flow's process must not hold: drift's
    # reference is then a bounded sample of its rows (flows/_cluster.py: reference_cap)
    champ = load_champion_task(
        client, lake, spec, ctx.model_name, reference_max_rows=reference_cap(ctx.settings), loaded=loaded
    )
    if champ is not None and champ.importance is None:  # promoted by a run that died before SHAP was logged
        champ = explain_unexplained(ctx, client, champ)
    report, score, growth, trained = None, None, None, []
    next_batch: dict[str, float] = {}
    if champ is not None:
        report = drift_task(
            lake, spec, number, champ.reference, policy=policy, importance=champ.importance, model=champ.model
        )
        batch = lake.read_batch(spec.name, number)
        score = champ.score(spec, split_rows(batch, "test"))
        # what the serving versions deliver on this batch, before anything trains on it
        next_batch = next_batch_task(
            client,
            spec,
            ctx.model_name,
            number,
            batch.drop(columns=[SPLIT_COLUMN]),
            models={champ.number: champ.model},
            versions=versions_to_score(champ.number, previous),
        )
        trained = [b.number for b in lineage(client, champ.version)]
        growth = growth_since(batch_rows(lake, spec.name, lake.accepted_numbers(spec.name)), trained, number)
    published = decide_task(
        lake,
        experiment,
        number,
        report,
        policy=policy,
        spec=spec,
        champion_score=score,
        retrain=ctx.settings.retraining_policy(),
        growth=growth,
    )
    decision = published.decision
    outcome = BatchOutcome(
        batch=number,
        rows=rows,
        valid=True,
        drift=round(report.drifted_share, 3) if report else None,
        drifted=report.drifted if report else [],
        metric=score,
        next_batch=next_batch,
        champion=champ.number if champ else None,
        reasons=decision.reasons,
        drift_report=published.report_uri,
        drift_run_id=published.run_id,
        trigger=str(decision.trigger) if decision.trigger else None,
        regime_start=next_regime_start(
            decision.trigger,
            number,
            regime,
            previous_trigger=previous.trigger if previous else None,
            previous_promoted=previous.promoted if previous else False,
        ),
    )
    if decision.retrain:
        announce_drift(ctx, outcome, report, champion=champ.number if champ else None)
        retrain_batch(ctx, client, experiment, outcome, trained)
    return record_outcome_task(lake, spec.name, outcome)


def retrain_batch(
    ctx: Context, client: MlflowClient, experiment: str, outcome: BatchOutcome, trained: list[int]
) -> None:
    """Train on the regime's window ending at the outcome's batch, gate, explain; fills in ``outcome``.

    A drift retrain whose window is small (``DRIFTGATE_HISTORY_CHALLENGER_BELOW_ROWS``) also trains
    a challenger on the whole history; it is gated after the first, on the same test rows, against
    whichever is champion then, and each gate's confidence is split between the two.

    Args:
        trained: the batches the current champion trained on (the gate asks non-inferiority of a
            growth retrain whose window holds them all, superiority otherwise).
    """
    s, spec = ctx.settings, ctx.spec
    started = time.perf_counter()
    rows = batch_rows(ctx.lake, spec.name, ctx.lake.accepted_numbers(spec.name))
    limit = s.window_policy()
    window = choose_window(rows, outcome.batch, outcome.regime_start, limit)
    trigger = Trigger(outcome.trigger) if outcome.trigger else Trigger.FORCED
    history = history_window(rows, outcome.batch, window, limit) if trigger is Trigger.DRIFT else None
    policy = s.gate_policy().for_candidates(2 if history else 1)
    if uses_cluster(s, window.rows):  # past one machine: the window stays on the Dask cluster (flows/_cluster.py)
        question = gate_question(trigger, window.batches, trained)
        new, result = train_and_gate_on_cluster(
            ctx, client, experiment, outcome, window=window, trigger=trigger, question=question, policy=s.gate_policy()
        )
        announce_trained(ctx, new, outcome, window=window, trigger=trigger)
        announce_verdict(ctx, result)
        outcome.add_retrain(new.version, new.run_id, result)
        outcome.window, outcome.window_rows = window.batches, window.rows
        outcome.train_seconds = round(time.perf_counter() - started, 2)
        return
    data = load_window_task(ctx.lake, spec, window.batches)
    question = gate_question(trigger, window.batches, trained)
    challenger = partial(
        train_and_gate, ctx, client, experiment, outcome, trigger=trigger, question=question, policy=policy
    )
    new, result = challenger(data=data, window=window, judged_on=window.batches)
    outcome.add_retrain(new.version, new.run_id, result)
    outcome.window, outcome.window_rows = window.batches, window.rows
    if history is not None:
        # judged on the same rows
        whole = replace(
            load_window_task(ctx.lake, spec, history.batches),
            test=data.test,
            newest_test=data.newest_test,
            newest_validation=data.newest_validation,
        )
        other, verdict = challenger(data=whole, window=history, judged_on=window.batches)
        outcome.add_history(other.version, verdict, history.rows)
    outcome.train_seconds = round(time.perf_counter() - started, 2)


def train_and_gate(
    ctx: Context,
    client: MlflowClient,
    experiment: str,
    outcome: BatchOutcome,
    *,
    data: TrainingData,
    window: Window,
    trigger: Trigger,
    question: Question,
    policy: GatePolicy,
    judged_on: list[int],
) -> tuple[TrainedVersion, GateResult]:
    """One challenger: trained on ``data``, tagged with its window, gated on ``data.test`` (the test
    rows of the batches ``judged_on``), explained."""
    s, spec = ctx.settings, ctx.spec
    retries = s.registry_retry_policy()  # DRIFTGATE_REGISTRY_RETRY_DELAYS: a registry that does not answer
    new, model, served = registry_retried(train_task, retries)(
        client,
        experiment,
        spec,
        ctx.model_name,
        data,
        s.search_settings(),
        outcome.reasons,
        outcome.batch,
        same_regime=question is Question.NONINFERIORITY,  # more rows of the champion's regime: maybe a refit
    )
    tag_challenger(client, new.run_id, outcome, window, trigger)
    announce_trained(ctx, new, outcome, window=window, trigger=trigger)
    links = run_links(s.resolved_tracking_uri(), s.service_url(), experiment, new.run_id, new.version)
    # the gate judges only held-out rows (fixed per batch at ingest) with the fit that never trained on them;
    # with a time order, only the newest batch's test rows (later than every training row)
    result = registry_retried(gate_task, retries)(
        client,
        spec,
        ctx.model_name,
        new.version,
        model=model,
        run_id=new.run_id,
        rows=data.gate_rows(spec),
        policy=policy,
        links=links,
        batches=judged_on,
        question=question,
    )
    announce_verdict(ctx, result)
    explain_task(
        spec,
        new,
        served,
        data=data,
        trigger=outcome.reasons,
        gate_reason=result.reason,
        budget=s.explain_settings(),
    )
    return new, result


@flow(name="continuous-training")
def continuous_training(
    dataset: str | None = None,
    max_batches: int | None = None,
    ingest: bool = True,
    retrain_reason: str | None = None,
    retrain: bool = False,
) -> list[BatchOutcome]:
    """Take every new batch through the loop, in order; a rerun continues where one stopped.

    Args:
        dataset: dataset spec name (default: ``DRIFTGATE_DATASET``).
        max_batches: ingest at most this many new batches (default: all available).
        ingest: fetch new batches first (off: process what the lake already holds).
        retrain_reason: retrain on the latest window even when no new batch asks for it, for this
            reason (``monitor-predictions`` sets it when live traffic asks for it); trigger ``forced``.
        retrain: force one retrain (trigger ``forced``) when no new batch retrained: the Prefect
            UI's switch, and ``driftgate run --retrain``.
    """
    ctx = build_context(get_settings(), dataset)
    if ingest:
        ingest_batches(dataset=ctx.spec.name, max_batches=max_batches)
    with registry_must_answer(ctx.settings.resolved_tracking_uri()):
        return train_pending(ctx, retrain_reason=retrain_reason or (FORCED if retrain else None))


def train_pending(ctx: Context, *, retrain_reason: str | None) -> list[BatchOutcome]:
    """Every batch without a recorded outcome through the loop, under the dataset's lease; then the
    forced retrain ``retrain_reason`` asks for, if no batch retrained."""
    client = configure_mlflow(ctx.settings)
    experiment = experiment_id(ctx.settings, ctx.spec.name)
    owner = f"continuous-training {flow_run.get_id() or 'local'}"
    with dataset_lease(ctx.lake, ctx.spec.name, owner=owner, ttl_s=ctx.settings.lease_seconds):
        loaded = LoadedChampion()  # the champion's model and reference, loaded once while it stays champion
        outcomes = [process_batch(ctx, client, experiment, n, loaded) for n in ctx.lake.pending_numbers(ctx.spec.name)]
        reason = retrain_reason
        if reason and not any(o.retrained for o in outcomes):
            current = champion_version(client, ctx.model_name)
            newest = last_outcome(ctx, ctx.lake.cursor(ctx.spec.name) + 1)
            start = newest.regime_start if newest else None
            forced = forced_retrain(ctx.lake, ctx.spec.name, reason, str(current.version) if current else None, start)
            if forced is not None:
                trained = [b.number for b in lineage(client, current)] if current else []
                retrain_batch(ctx, client, experiment, forced, trained)
                outcomes.append(forced)
    if outcomes:
        publish_outcomes(ctx.spec.name, outcomes)
    return outcomes
