"""The current champion as the loop needs it: its version, model, training rows and importance."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient
from prefect import task
from prefect.cache_policies import NO_CACHE

from driftgate.dataset.spec import DatasetSpec
from driftgate.errors import ModelLoadError
from driftgate.registry.client import champion_version, importance, lineage, load_version
from driftgate.stores.lake import Lake
from driftgate.tasks.evaluate import primary_score
from driftgate.tasks.train import reference_rows, split_xy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Champion:
    """The serving champion, loaded through the safe loader.

    Attributes:
        version: its registry version.
        model: the fitted pipeline.
        reference: the training rows of the batches in its lineage (drift's reference).
        importance: mean |SHAP| per feature when it was explained, else None (uniform weights).
    """

    version: ModelVersion
    model: Any
    reference: pd.DataFrame
    importance: dict[str, float] | None

    @property
    def number(self) -> str:
        return str(self.version.version)

    def score(self, spec: DatasetSpec, rows: pd.DataFrame) -> float:
        """Its primary metric on labelled ``rows``."""
        X, y = split_xy(rows, spec)
        return primary_score(self.model, spec, X, y)


@dataclass
class LoadedChampion:
    """The last champion version a flow run loaded, its model and reference rows, for its next batches.

    A registered version's model and lineage never change, so while the champion is the same version
    a run's later batches reuse them instead of loading the model and reading its lineage again
    (about 0.8 s a batch for a 100-column table at a load of 10); its importance is read each time
    (an explanation may come after the version). A new champion (promoted by this run or another
    process) replaces it.
    """

    version: str | None = None
    model: Any = None
    reference: pd.DataFrame | None = None


def load_champion(
    client: MlflowClient,
    lake: Lake,
    spec: DatasetSpec,
    model_name: str,
    *,
    reference_max_rows: int | None = None,
    loaded: LoadedChampion | None = None,
) -> Champion | None:
    """The champion with its model and reference rows; None when there is none yet or it no longer loads.

    ``reference_max_rows``: a seeded sample of about that many of its training rows when it trained on
    more (see :func:`driftgate.tasks.train.reference_rows`); the same for every call sharing ``loaded``.
    ``loaded``: what an earlier call of the same flow run loaded (:class:`LoadedChampion`), reused
    while the champion is the same version, and updated.

    A champion the safe loader now refuses (a spec edit, a library upgrade) is no usable champion:
    the loop trains one (trigger ``first``) and the gate replaces it.
    """
    mv = champion_version(client, model_name)
    if mv is None:
        return None
    if loaded is not None and loaded.version == str(mv.version) and loaded.reference is not None:
        return Champion(version=mv, model=loaded.model, reference=loaded.reference, importance=importance(client, mv))
    try:
        model = load_version(model_name, mv.version, spec)
    except ModelLoadError as exc:
        log.warning("champion of %s (version %s) no longer loads, training a new one: %s", model_name, mv.version, exc)
        return None
    reference = reference_rows(lake, spec, lineage(client, mv), max_rows=reference_max_rows)
    if loaded is not None:
        loaded.version, loaded.model, loaded.reference = str(mv.version), model, reference
    return Champion(version=mv, model=model, reference=reference, importance=importance(client, mv))


# --- Prefect wrappers ------------------------------------------------------------------


@task(name="load-champion", cache_policy=NO_CACHE)
def load_champion_task(
    client: MlflowClient,
    lake: Lake,
    spec: DatasetSpec,
    model_name: str,
    *,
    reference_max_rows: int | None = None,
    loaded: LoadedChampion | None = None,
) -> Champion | None:
    champion = load_champion(client, lake, spec, model_name, reference_max_rows=reference_max_rows, loaded=loaded)
    log.info("champion of %s: %s", model_name, champion.number if champion else "none yet")
    return champion
