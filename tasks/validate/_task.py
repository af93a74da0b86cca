"""The ``validate-batch`` Prefect task: one stored batch, in this process or per partition on a Dask cluster."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from driftgate.alerts.events import batch_quarantined
from driftgate.dataset.spec import DatasetSpec
from driftgate.names import artifact_key
from driftgate.stores.lake import Lake
from driftgate.tasks.validate._partitions import validate_on_cluster
from driftgate.tasks.validate._validation import (
    ClusterValidation,
    ValidationResult,
    load_suite,
    stored_verdict,
    validate_stored_batch,
)


@task(name="validate-batch", task_run_name="validate-batch-{number}", cache_policy=NO_CACHE)
def validate_batch_task(
    lake: Lake, spec: DatasetSpec, number: int, suite_file: Path, cluster: ClusterValidation | None = None
) -> ValidationResult:
    """Validate a stored batch once: a batch already accepted or quarantined keeps its verdict.

    ``cluster``: a batch of more than ``cluster.min_rows`` rows and more than one partition
    (``cluster.partition_rows``) is validated partition by partition on that Dask cluster
    (:func:`validate_on_cluster`) instead of in this process; a batch of one partition gains
    nothing there (the flow held it whole to store it).
    """
    known = stored_verdict(lake, spec.name, number)
    if known is not None:
        return known
    manifest = lake.manifest(spec.name, number)
    if cluster is not None and manifest is not None and manifest.rows > max(cluster.min_rows, cluster.partition_rows):
        result = validate_on_cluster(cluster, lake, spec, number, suite_file)
    else:
        result = validate_stored_batch(lake, spec, number, load_suite(suite_file))
    create_markdown_artifact(result.to_markdown(), key=artifact_key("validation", spec.name, number))
    if not result.success:  # a verdict recorded by an earlier run was announced by that run
        batch_quarantined(
            spec.name,
            number,
            rows=manifest.rows if manifest else None,
            failures=[f.describe() for f in result.failures],
            evaluated=result.evaluated,
            report=lake.uri("quarantine", spec.name, f"batch={number}"),
        )
    return result
