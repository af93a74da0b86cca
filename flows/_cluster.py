"""The continuous-training retrain past one machine: a window of more than ``DRIFTGATE_DASK_MIN_ROWS`` rows on Dask.

``flows/training.py`` calls :func:`train_and_gate_on_cluster` when ``DRIFTGATE_DASK_ADDRESS`` is set
and the window is larger than ``DRIFTGATE_DASK_MIN_ROWS``; below it nothing changes. The window's
Parquet parts are read by the cluster's workers, the booster is trained there
(:func:`driftgate.tasks.train.train_on_cluster_task`), both models score the test rows partition by
partition and only their predictions, the labels and the categorical columns (the gate's slices)
come back; the verdict is the gate's own :func:`driftgate.tasks.gate.evaluate_challenger`; SHAP
explains a seeded sample of ``DRIFTGATE_EXPLAIN_ROWS`` test rows.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from distributed import Client
from mlflow.tracking import MlflowClient
from prefect import task
from prefect.cache_policies import NO_CACHE

from driftgate.context import Context
from driftgate.policies import GatePolicy, Question
from driftgate.registry import CHALLENGER, champion_version
from driftgate.settings import Settings
from driftgate.spec import DatasetSpec
from driftgate.tasks.drift import Trigger
from driftgate.tasks.explain import explain_task
from driftgate.tasks.gate import GateResult, evaluate_challenger, publish_gate, run_links, settle, usable_champion
from driftgate.tasks.loop import BatchOutcome, Window
from driftgate.tasks.train import (
    ClusterTraining,
    DistributedSettings,
    TrainedVersion,
    partition_predictions,
    read_window,
    train_on_cluster_task,
)
from driftgate.tasks.validate import ClusterValidation

log = logging.getLogger(__name__)


def uses_cluster(settings: Settings, window_rows: int) -> bool:
    """A window of more than ``DRIFTGATE_DASK_MIN_ROWS`` rows trains on the cluster, when one is configured."""
    return bool(settings.dask_address) and window_rows > settings.dask_min_rows


def reference_cap(settings: Settings) -> int | None:
    """Most of a champion's training rows drift's reference holds in the flow's process: with a cluster
    configured, ``DRIFTGATE_DASK_MIN_ROWS`` (a champion trained on more was trained on the cluster, its
    lineage is a window this process never holds whole), and never fewer than the encoders' sample
    (``DRIFTGATE_DASK_MIN_ROWS=0`` sends every window to the cluster); without one, no cap (as before)."""
    return max(settings.dask_min_rows, DistributedSettings().sample_rows) if settings.dask_address else None


def validation_cluster(settings: Settings) -> ClusterValidation | None:
    """Where a batch of more than ``DRIFTGATE_DASK_MIN_ROWS`` rows is validated: per partition on the
    configured Dask cluster (``tasks/validate/_partitions.py``); None without one."""
    if not settings.dask_address:
        return None
    return ClusterValidation(settings.dask_address, settings.dask_min_rows, storage_options=settings.storage_options())


@task(
    name="champion-gate-on-cluster",
    task_run_name="gate-{spec.name}-v{done.trained.version}-dask",
    cache_policy=NO_CACHE,
)
def gate_on_cluster_task(
    client: MlflowClient,
    dask_client: Client,
    spec: DatasetSpec,
    done: ClusterTraining,
    test: Any,
    *,
    policy: GatePolicy,
    batches: list[int],
    question: Question,
    links: dict[str, str],
) -> GateResult:
    """The gate of :func:`driftgate.tasks.gate.gate` on predictions made per partition of the lazy ``test`` rows."""
    name, version, run_id = done.trained.name, done.trained.version, done.trained.run_id
    client.set_registered_model_alias(name, CHALLENGER, version)
    current = champion_version(client, name)
    champion = usable_champion(spec, name, current)
    models = {"challenger": done.model, **({"champion": champion} if champion is not None else {})}
    rows, preds = partition_predictions(dask_client, test, spec, models, keep=list(spec.categorical))
    result = evaluate_challenger(
        spec, rows, preds["challenger"], preds.get("champion"), policy=policy, batches=batches, question=question
    )
    result = replace(result, challenger=str(version), champion=str(current.version) if current else None)
    settle(client, spec, name, version, run_id=run_id, result=result, current=current)
    publish_gate(client, spec, name, result, links)
    log.info("gate for %s v%s on %s test rows (per partition): %s", name, version, len(rows), result.outcome)
    return result


def train_and_gate_on_cluster(
    ctx: Context,
    client: MlflowClient,
    experiment: str,
    outcome: BatchOutcome,
    *,
    window: Window,
    trigger: Trigger,
    question: Question,
    policy: GatePolicy,
) -> tuple[TrainedVersion, GateResult]:
    """One challenger on the cluster: trained, tagged with its window, gated on the window's test rows, explained."""
    s, spec = ctx.settings, ctx.spec
    assert s.dask_address, "train_and_gate_on_cluster needs DRIFTGATE_DASK_ADDRESS"
    log.info(
        "%s: window of %s rows > DRIFTGATE_DASK_MIN_ROWS=%s: on %s",
        spec.name,
        window.rows,
        s.dask_min_rows,
        s.dask_address,
    )
    with Client(s.dask_address) as dask_client:  # type: ignore[no-untyped-call]
        lazy = read_window(ctx.lake, spec, window.batches, s.storage_options())
        cfg = DistributedSettings(n_estimators=s.dask_trees, seed=s.seed, encoding=s.categorical_encoding)
        done = train_on_cluster_task(
            client,
            experiment,
            spec,
            ctx.model_name,
            lazy,
            cfg,
            outcome.reasons,
            outcome.batch,
            dask_client=dask_client,
            sample_test_rows=s.explain_rows,
        )
        new = done.trained
        tags = {
            "driftgate.trigger": str(trigger),
            "driftgate.reasons": "; ".join(outcome.reasons)[:5000],
            "driftgate.window.batches": ",".join(map(str, window.batches)),
            "driftgate.window.rows": str(window.rows),
            "driftgate.regime_start": str(outcome.regime_start),
        }
        for key, value in tags.items():
            client.set_tag(new.run_id, key, value)
        links = run_links(s.resolved_tracking_uri(), s.service_url(), experiment, new.run_id, new.version)
        result = gate_on_cluster_task(
            client,
            dask_client,
            spec,
            done,
            lazy.split("test"),
            policy=policy,
            batches=window.batches,
            question=question,
            links=links,
        )
    explain_task(
        spec,
        new,
        done.model,
        data=done.samples,
        trigger=outcome.reasons,
        gate_reason=result.reason,
        budget=s.explain_settings(),
    )
    return new, result
