"""``batch-predict`` past one machine: each input file read, checked, scored and written on a Dask worker.

A file is the unit of work (a partition): the champion and its input contract travel to every
worker once (``scatter(broadcast=True)``), each worker reads its files from where they are (a local
path every worker sees, or ``s3://`` through s3fs with the same storage options), and only the small
:class:`ScoredFile` summaries come back to the flow's process; no row does.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from driftgate.dataset.spec import DatasetSpec
from driftgate.tasks.scoring._batch import ScoredFile, ScoringModel, check_rows, score_rows, write_outputs
from driftgate.tasks.scoring._inputs import input_fs, read_input

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)


def score_file(
    url: str, storage_options: dict[str, Any], path: str, spec: DatasetSpec, champion: ScoringModel
) -> ScoredFile:
    """One input file scored where this runs: read, checked with the contract, scored, outputs written beside it.

    Raises:
        DriftgateError: the file cannot be read at all.
    """
    fs, _ = input_fs(url, storage_options)
    data = read_input(fs, path, spec)
    check = check_rows(data, champion.contract, spec.key_columns)
    scored = score_rows(champion, spec.task, data, check, spec.id_columns)
    written = write_outputs(fs, path, scored, check.rejected)
    return replace(written, missing_columns=check.missing_columns, unexpected_columns=check.unexpected_columns)


def score_files_on_cluster(
    client: Client,
    url: str,
    storage_options: dict[str, Any],
    files: list[str],
    spec: DatasetSpec,
    champion: ScoringModel,
) -> list[ScoredFile]:
    """Every file of ``files`` scored by :func:`score_file` on the cluster's workers; their summaries, in order.

    Raises:
        DriftgateError: a file cannot be read at all (the first such file's error, raised here).
    """
    shared = client.scatter(champion, broadcast=True)  # type: ignore[no-untyped-call]
    futures = client.map(
        score_file,
        [url] * len(files),
        [storage_options] * len(files),
        files,
        [spec] * len(files),
        [shared] * len(files),
        pure=False,
    )
    results: list[ScoredFile] = client.gather(futures)  # type: ignore[no-untyped-call]
    log.info("scored %s files on the cluster", len(results))
    return results


# --- Prefect wrappers ------------------------------------------------------------------


@task(name="score-files-on-cluster", task_run_name="score-{url}-dask", cache_policy=NO_CACHE)
def score_files_on_cluster_task(
    dask_address: str,
    url: str,
    storage_options: dict[str, Any],
    files: list[str],
    spec: DatasetSpec,
    champion: ScoringModel,
) -> list[ScoredFile]:
    from distributed import Client  # only a flow that scores on a cluster needs distributed

    with Client(dask_address) as client:  # type: ignore[no-untyped-call]
        return score_files_on_cluster(client, url, storage_options, files, spec, champion)
