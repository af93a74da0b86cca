"""Flow ``continuous-training``: ingest → validate → drift → decide → train → gate → explain.

The flow only orders task calls and branches on their typed results; the logic lives in the
stage modules under ``tasks/``. Each batch's :class:`BatchOutcome` is written to the lake, so a
rerun continues where the last run stopped.
"""

from __future__ import annotations

import logging

from mlflow.tracking import MlflowClient
from prefect import flow
from prefect.runtime import flow_run

from driftgate.context import Context, build_context
from driftgate.flows.ingest import ingest_batches
from driftgate.lease import dataset_lease
from driftgate.registry import champion_version
from driftgate.settings import get_settings
from driftgate.tasks.drift import DriftPolicy, decide_task, drift_task
from driftgate.tasks.explain import explain_task
from driftgate.tasks.gate import GatePolicy, gate_task, run_links
from driftgate.tasks.loop import (
    BatchOutcome,
    forced_retrain,
    load_champion_task,
    publish_outcomes,
    quarantined,
    record_outcome_task,
    training_window,
)
from driftgate.tasks.train import SearchSettings, load_window, split_rows, train_task
from driftgate.tasks.validate import validate_batch_task
from driftgate.tracking import configure_mlflow, experiment_id

log = logging.getLogger(__name__)


def process_batch(ctx: Context, client: MlflowClient, experiment: str, number: int) -> BatchOutcome:
    """One stored batch through the loop; its outcome is recorded in the lake."""
    lake, spec = ctx.lake, ctx.spec
    manifest = lake.manifest(spec.name, number)
    rows = manifest.rows if manifest else None
    if not validate_batch_task(lake, spec, number, ctx.suite_file).success:
        current = champion_version(client, ctx.model_name)
        return record_outcome_task(
            lake, spec.name, quarantined(number, rows, str(current.version) if current else None)
        )

    policy = DriftPolicy.from_settings(ctx.settings)
    champ = load_champion_task(client, lake, spec, ctx.model_name)
    report, score = None, None
    if champ is not None:
        report = drift_task(lake, spec, number, champ.reference, policy, champ.importance)
        score = champ.score(spec, split_rows(lake.read_batch(spec.name, number), "test"))
    decision, report_uri, drift_run = decide_task(lake, experiment, number, report, policy, spec, score)
    outcome = BatchOutcome(
        batch=number,
        rows=rows,
        valid=True,
        drift=round(report.drifted_share, 3) if report else None,
        drifted=report.drifted if report else [],
        metric=score,
        champion=champ.number if champ else None,
        reasons=decision.reasons,
        drift_report=report_uri,
        drift_run_id=drift_run,
    )
    if decision.retrain:
        retrain(ctx, client, experiment, outcome)
    return record_outcome_task(lake, spec.name, outcome)


def retrain(ctx: Context, client: MlflowClient, experiment: str, outcome: BatchOutcome) -> None:
    """Train on the window ending at the outcome's batch, gate, explain; fills in ``outcome``."""
    s, spec = ctx.settings, ctx.spec
    window = training_window(ctx.lake.accepted_numbers(spec.name), outcome.batch, s.train_window)
    data = load_window(ctx.lake, spec, window)
    trained, model = train_task(
        client, experiment, spec, ctx.model_name, data, SearchSettings.from_settings(s), outcome.reasons, outcome.batch
    )
    links = run_links(s.resolved_tracking_uri(), s.service_url(), experiment, trained.run_id, trained.version)
    batches = [b.number for b in data.batches]  # the gate compares on the test rows of the whole window
    result = gate_task(client, spec, ctx.model_name, trained.version, model, trained.run_id, data.test,
                       GatePolicy.from_settings(s), links, batches)  # fmt: skip
    explain_task(spec, trained, model, data, outcome.reasons, result.reason,
                 (s.explain_rows, s.explain_seconds, s.seed))  # fmt: skip
    outcome.add_retrain(trained.version, trained.run_id, result)


@flow(name="continuous-training")
def continuous_training(
    dataset: str | None = None,
    max_batches: int | None = None,
    ingest: bool = True,
    retrain_reason: str | None = None,
) -> list[BatchOutcome]:
    """Take every new batch through the loop, in order; a rerun continues where one stopped.

    Args:
        dataset: dataset spec name (default: ``DRIFTGATE_DATASET``).
        max_batches: ingest at most this many new batches (default: all available).
        ingest: fetch new batches first (off: process what the lake already holds).
        retrain_reason: retrain on the latest window even when no new batch asks for it, for this
            reason (``monitor-predictions`` sets it when live traffic asks for it).
    """
    ctx = build_context(get_settings(), dataset)
    if ingest:
        ingest_batches(dataset=ctx.spec.name, max_batches=max_batches)
    client = configure_mlflow(ctx.settings)
    experiment = experiment_id(ctx.settings, ctx.spec.name)
    owner = f"continuous-training {flow_run.get_id() or 'local'}"
    with dataset_lease(ctx.lake, ctx.spec.name, owner=owner, ttl_s=ctx.settings.lease_seconds):
        outcomes = [process_batch(ctx, client, experiment, n) for n in ctx.lake.pending_numbers(ctx.spec.name)]
        if retrain_reason and not any(o.retrained for o in outcomes):
            current = champion_version(client, ctx.model_name)
            forced = forced_retrain(ctx.lake, ctx.spec.name, retrain_reason, str(current.version) if current else None)
            if forced is not None:
                retrain(ctx, client, experiment, forced)
                outcomes.append(forced)
    if outcomes:
        publish_outcomes(ctx.spec.name, outcomes)
    return outcomes
