"""The gate on the cluster: :func:`gate`'s verdict on predictions made partition by partition.

A window past ``DRIFTGATE_DASK_MIN_ROWS`` never comes back to the flow's process whole: both models
score its test rows on the workers (:func:`driftgate.tasks.train.partition_predictions`), and only
the predictions, the labels and the categorical columns (the gate's slices) come back to
:func:`evaluate_challenger`, the same decision as on one machine.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mlflow.tracking import MlflowClient
from prefect import task
from prefect.cache_policies import NO_CACHE

from driftgate.dataset.spec import DatasetSpec
from driftgate.policies import GatePolicy, Question
from driftgate.registry.client import CHALLENGER, champion_version
from driftgate.tasks.gate._gate import evaluate_challenger, publish_gate, settle, usable_champion
from driftgate.tasks.gate._result import GateResult
from driftgate.tasks.train import ClusterTraining, partition_predictions

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)


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
