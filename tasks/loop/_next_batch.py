"""What each version delivered on the batch that came after it: scored before anything trains on it.

A version's held-out score is what it promised; its score on the next batch, all of its rows, is
what it did where it serves. Both are recorded on the version's MLflow run (``next_batch_<metric>``
at step = batch number) and in the batch's outcome, so the gap between them is visible per version.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from prefect import task
from prefect.cache_policies import NO_CACHE

from driftgate.dataset.spec import DatasetSpec
from driftgate.errors import ModelLoadError
from driftgate.registry.client import load_version
from driftgate.stores.outcome import BatchOutcome
from driftgate.tasks.evaluate import primary_score
from driftgate.tasks.train import split_xy

log = logging.getLogger(__name__)


def next_batch_metric(spec: DatasetSpec) -> str:
    """The run metric holding a version's score on the next batch."""
    return f"next_batch_{spec.metric.name}"


def versions_to_score(champion: str | None, previous: BatchOutcome | None) -> list[str]:
    """The serving champion first, then the versions trained on the previous batch and the champion they
    were gated against (the first version its outcome scored): what the gate chose between, on what came next."""
    trained = [previous.version, previous.history_version] if previous and previous.retrained else []
    if trained and previous is not None and previous.next_batch:
        trained.append(next(iter(previous.next_batch)))
    out = [champion] if champion else []
    return out + [v for v in dict.fromkeys(trained) if v and v not in out]


def next_batch_scores(
    client: MlflowClient,
    spec: DatasetSpec,
    model_name: str,
    number: int,
    rows: pd.DataFrame,
    *,
    models: dict[str, Any],
    versions: list[str],
) -> dict[str, float]:
    """Each version's primary metric on all of batch ``number``'s ``rows``, logged on its run.

    Args:
        models: versions already loaded (the champion); the others load through the safe loader.
        versions: the versions to score (:func:`versions_to_score`); one that no longer loads is skipped.
    """
    X, y = split_xy(rows, spec)
    scores: dict[str, float] = {}
    for version in versions:
        try:
            model = models.get(version) or load_version(model_name, version, spec)
            score = primary_score(model, spec, X, y)
            run_id = client.get_model_version(model_name, version).run_id
        except (ModelLoadError, MlflowException) as exc:
            log.warning("next-batch score of %s version %s skipped: %s", model_name, version, exc)
            continue
        if score != score:  # NaN: not measurable on these rows (one class only)
            continue
        scores[version] = score
        if run_id:
            client.log_metric(run_id, next_batch_metric(spec), score, step=number)
    return scores


# --- Prefect wrappers ------------------------------------------------------------------

next_batch_task = task(name="score-next-batch", task_run_name="next-batch-{number}", cache_policy=NO_CACHE)(
    next_batch_scores
)
