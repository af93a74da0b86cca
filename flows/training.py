"""Flow ``continuous-training``: ingest → validate → drift → decide → train → gate → explain."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from mlflow.tracking import MlflowClient
from prefect import flow
from prefect.artifacts import create_table_artifact

from driftgate.context import Context, build_context
from driftgate.flows.ingest import ingest_batches
from driftgate.registry import champion_version, importance, lineage, load_version
from driftgate.settings import get_settings
from driftgate.tasks.drift import DriftPolicy
from driftgate.tasks.drift_report import decide, drift_task, log_drift_run, publish_drift
from driftgate.tasks.metrics import primary_score
from driftgate.tasks.model_run import load_window, reference_rows
from driftgate.tasks.steps import explain_task, gate_task, train_task
from driftgate.tasks.train import SearchSettings, split_rows, split_xy
from driftgate.tasks.validate import validate_batch_task
from driftgate.tracking import configure_mlflow, experiment_id

log = logging.getLogger(__name__)


def _champion_state(
    ctx: Context, client: MlflowClient
) -> tuple[Any, pd.DataFrame | None, dict[str, float] | None, Any]:
    mv = champion_version(client, ctx.model_name)
    if mv is None:
        return None, None, None, None
    reference = reference_rows(ctx.lake, ctx.spec, lineage(client, mv))
    return mv, reference, importance(client, mv), load_version(ctx.model_name, mv.version)


def process_batch(ctx: Context, client: MlflowClient, experiment: str, number: int) -> dict[str, Any]:
    """Run one stored batch through the loop and record the outcome in the lake."""
    ds, lake, s = ctx.spec.name, ctx.lake, ctx.settings
    manifest = lake.manifest(ds, number)
    record: dict[str, Any] = {"batch": number, "rows": manifest.rows if manifest else 0}
    if lake.is_quarantined(ds, number):
        valid = False
    elif number in lake.accepted_numbers(ds):
        valid = True
    else:
        valid = validate_batch_task(lake, ctx.spec, number, ctx.suite_file).success
    record["valid"] = valid
    if not valid:
        champ = champion_version(client, ctx.model_name)
        record.update(
            drift=None,
            retrained=False,
            reasons=["quarantined: failed validation"],
            version=None,
            metric=None,
            champion=str(champ.version) if champ else None,
        )
        lake.set_progress(ds, number, record)
        return record

    policy = DriftPolicy.from_settings(s)
    mv, reference, weights, champ_model = _champion_state(ctx, client)
    newest_test = split_rows(lake.read_batch(ds, number), "test")
    report = None
    champ_score = None
    if mv is not None and reference is not None:
        report = drift_task(lake, ctx.spec, number, reference, policy, weights)
        X, y = split_xy(newest_test, ctx.spec)
        champ_score = primary_score(champ_model, ctx.spec, X, y)
    decision = decide(report, policy, ctx.spec, has_champion=mv is not None, champion_score=champ_score)
    if report is not None:
        record["drift_report"] = publish_drift(lake, report, decision)
        record["drift_run_id"] = log_drift_run(experiment, report, decision)
    record.update(
        drift=round(report.drifted_share, 3) if report else None,
        drifted=report.drifted if report else [],
        retrained=decision.retrain,
        reasons=decision.reasons,
        version=None,
        metric=champ_score,
        champion=str(mv.version) if mv else None,
    )
    if decision.retrain:
        record.update(retrain(ctx, client, experiment, number, decision.reasons, record["champion"]))
    lake.set_progress(ds, number, record)
    return record


def retrain(
    ctx: Context, client: MlflowClient, experiment: str, number: int, reasons: list[str], champion: str | None
) -> dict[str, Any]:
    """Train on the accepted batches up to ``number`` (the window), gate, explain; the outcome fields."""
    s = ctx.settings
    window = [n for n in ctx.lake.accepted_numbers(ctx.spec.name) if n <= number][-s.train_window :]
    data = load_window(ctx.lake, ctx.spec, window)
    cfg = SearchSettings(s.search_iter, s.cv_folds, s.n_jobs, s.seed, s.dask_address)
    trained, model = train_task(client, experiment, ctx.spec, ctx.model_name, data, cfg, reasons, number)
    result = gate_task(
        client, ctx.spec, ctx.model_name, trained.version, model, trained.run_id, data.newest_test, s.gate_margin
    )
    explain_task(ctx.spec, trained, model, data, result, s.explain_rows, s.explain_seconds, s.seed)
    return {
        "version": trained.version,
        "promoted": result.promoted,
        "gate": result.reason,
        "metric": result.challenger_score if result.promoted else result.champion_score,
        "champion": trained.version if result.promoted else champion,
        "run_id": trained.run_id,
    }


@flow(name="continuous-training")
def continuous_training(
    dataset: str | None = None,
    max_batches: int | None = None,
    ingest: bool = True,
    retrain_reason: str | None = None,
) -> list[dict[str, Any]]:
    """Take every new batch through the loop, in order; a rerun continues where one stopped.

    Args:
        dataset: dataset spec name (default: ``DRIFTGATE_DATASET``).
        max_batches: ingest at most this many new batches (default: all available).
        ingest: fetch new batches first (off: process what the lake already holds).
        retrain_reason: retrain on the latest window even when no new batch asks for it, for this
            reason (``monitor-predictions`` sets it when live inputs drift).
    """
    ctx = build_context(get_settings(), dataset)
    if ingest:
        ingest_batches(dataset=ctx.spec.name, max_batches=max_batches)
    client = configure_mlflow(ctx.settings)
    experiment = experiment_id(ctx.settings, ctx.spec.name)
    outcomes = []
    for number in ctx.lake.stored_numbers(ctx.spec.name):
        if ctx.lake.progress(ctx.spec.name, number) is None:
            outcomes.append(process_batch(ctx, client, experiment, number))
    if retrain_reason and not any(o.get("retrained") for o in outcomes):
        accepted = ctx.lake.accepted_numbers(ctx.spec.name)
        if not accepted:
            log.warning("asked to retrain (%s) but the lake holds no accepted batch", retrain_reason)
        else:
            champ = champion_version(client, ctx.model_name)
            record: dict[str, Any] = {"batch": accepted[-1], "rows": None, "valid": True, "drift": None,
                                      "retrained": True, "reasons": [retrain_reason]}  # fmt: skip
            record.update(retrain(ctx, client, experiment, accepted[-1], [retrain_reason],
                                  str(champ.version) if champ else None))  # fmt: skip
            outcomes.append(record)
    if outcomes:
        create_table_artifact(
            key=f"continuous-training-{ctx.spec.name}".lower().replace("_", "-"),
            table=[{k: str(v) for k, v in o.items() if k in SUMMARY} for o in outcomes],
            description="What each batch did in this run",
        )
    return outcomes


SUMMARY = ("batch", "rows", "valid", "drift", "retrained", "version", "metric", "champion", "reasons")
