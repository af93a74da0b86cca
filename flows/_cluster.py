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

from mlflow.tracking import MlflowClient

from driftgate.context import Context
from driftgate.policies import GatePolicy, Question
from driftgate.settings import Settings
from driftgate.tasks.drift import Trigger
from driftgate.tasks.explain import explain_task
from driftgate.tasks.gate import GateResult, gate_on_cluster_task, run_links
from driftgate.tasks.loop import BatchOutcome, Window, tag_challenger
from driftgate.tasks.train import (
    DistributedSettings,
    TrainedVersion,
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
    from distributed import Client  # imported here: a run whose windows stay on one machine never needs it

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
        tag_challenger(client, new.run_id, outcome, window, trigger)
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
