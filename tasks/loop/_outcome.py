"""The loop's outcome records as Prefect tasks and artifacts (the record itself: :mod:`driftgate.stores.outcome`)."""

from __future__ import annotations

import logging

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from driftgate.names import artifact_key
from driftgate.stores.lake import Lake
from driftgate.stores.outcome import BatchOutcome

log = logging.getLogger(__name__)


def forced_retrain(
    lake: Lake, dataset: str, reason: str, champion: str | None, regime_start: int | None = None
) -> BatchOutcome | None:
    """The outcome a retrain asked for from outside (the monitor) starts from: the newest accepted batch.

    Returns None (and logs why) when the lake holds no accepted batch to train on.
    """
    accepted = lake.accepted_numbers(dataset)
    if not accepted:
        log.warning("asked to retrain (%s) but the lake holds no accepted batch of %s", reason, dataset)
        return None
    return BatchOutcome(
        batch=accepted[-1],
        rows=None,
        valid=True,
        reasons=[reason],
        champion=champion,
        trigger="forced",
        regime_start=regime_start,
    )


# --- Prefect wrappers ------------------------------------------------------------------


@task(name="record-outcome", task_run_name="record-batch-{outcome.batch}", cache_policy=NO_CACHE)
def record_outcome_task(lake: Lake, dataset: str, outcome: BatchOutcome) -> BatchOutcome:
    """Write the batch's progress record: a rerun of the flow skips it from now on."""
    lake.set_progress(dataset, outcome.batch, outcome.to_record())
    return outcome


def publish_outcomes(dataset: str, outcomes: list[BatchOutcome]) -> None:
    """The run's table as a Prefect artifact."""
    create_table_artifact(
        key=artifact_key("continuous-training", dataset),
        table=[dict(zip([*BatchOutcome.TABLE, "why"], o.cells(), strict=True)) for o in outcomes],
        description="What each batch did in this run",
    )
