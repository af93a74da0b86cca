"""Flow ``batch-predict``: score files with the champion; predictions and rejected rows beside each input."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from prefect import flow
from prefect.artifacts import create_table_artifact

from driftgate.context import Context, build_context
from driftgate.errors import DriftgateError
from driftgate.registry.tracking import configure_mlflow
from driftgate.settings import get_settings
from driftgate.tasks.scoring import (
    ScoredFile,
    ScoringModel,
    check_rows_task,
    input_location,
    list_inputs_task,
    load_scoring_model_task,
    read_input_task,
    score_files_on_cluster_task,
    score_rows_task,
    write_outputs_task,
)

log = logging.getLogger(__name__)


def score_here(ctx: Context, target: str, options: dict[str, Any], path: str, champion: ScoringModel) -> ScoredFile:
    """One file read, checked, scored and written by this process, each step a task of the run."""
    data = read_input_task(target, options, path, ctx.spec)
    check = check_rows_task(data, champion.contract, ctx.spec.key_columns)
    scored = score_rows_task(champion, ctx.spec.task, data, check, ctx.spec.id_columns)
    written = write_outputs_task(target, options, path, scored, check.rejected)
    return replace(written, missing_columns=check.missing_columns, unexpected_columns=check.unexpected_columns)


@flow(name="batch-predict")
def batch_predict(path: str, dataset: str | None = None) -> list[ScoredFile]:
    """Score ``path`` (a local path, ``s3://`` URL or lake prefix) with the champion.

    Each input's rows are checked with the service's input contract. Valid rows are scored into
    ``<input>.predictions.parquet`` (input order: ``row``, the spec's id columns, ``prediction``,
    ``proba_<class>`` for classifiers, ``model_name``, ``model_version``); the others go to
    ``<input>.rejected.parquet`` with the ``field`` and ``reason``. With ``DRIFTGATE_DASK_ADDRESS``
    set, each file is read, checked, scored and written on a worker of that cluster (the path must
    be one the workers reach: ``s3://`` or a shared folder), and only the summaries come back.

    Raises:
        DriftgateError: no champion, no inputs, or an input that cannot be read at all.
    """
    ctx = build_context(get_settings(), dataset)
    champion = load_scoring_model_task(
        configure_mlflow(ctx.settings), ctx.spec, ctx.model_name, ctx.settings.max_records
    )
    target = input_location(path, ctx.lake)
    options = ctx.settings.storage_options(target)
    files = list_inputs_task(target, options)
    if not files:
        raise DriftgateError(f"no CSV or Parquet files at {target}")
    if ctx.settings.dask_address:  # past one machine: each file is scored on a worker, only summaries come back
        results = score_files_on_cluster_task(ctx.settings.dask_address, target, options, files, ctx.spec, champion)
    else:
        results = [score_here(ctx, target, options, f, champion) for f in files]
    create_table_artifact(
        key="batch-predict",
        table=[r.summary() for r in results],
        description=f"{champion.name} v{champion.version}",
    )
    return results
