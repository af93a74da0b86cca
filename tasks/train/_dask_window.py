"""A training window as a Dask DataFrame: read lazily from the lake, sampled and scored partition by partition.

Past ``DRIFTGATE_DASK_MIN_ROWS`` the flow's process never holds a window's rows: the batches' Parquet
parts are read by the cluster's workers (``dask.dataframe.read_parquet`` with the lake's own fsspec
``storage_options``, so ``file://`` and ``s3://`` lakes both work), and what comes back to the flow
is small by construction: row counts, a seeded sample, and per-row predictions with their labels.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from driftgate.dataset.frames import SPLIT_COLUMN, SPLITS
from driftgate.dataset.spec import DatasetSpec
from driftgate.errors import DriftgateError
from driftgate.models.partitions import score_part
from driftgate.models.predict import Predictions
from driftgate.registry.client import BatchRef
from driftgate.stores.lake import Lake

if TYPE_CHECKING:  # Dask is imported where a window is read or scored: a flow without a cluster never needs it
    import dask.dataframe as dd
    from distributed import Client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DaskWindow:
    """The rows of a window of accepted batches, lazily, with the batches' lineage.

    Attributes:
        frame: every row of the window with its split column (one partition per batch file).
        batches: the window's batches, oldest first.
        split_rows: rows per split, from the batches' manifests (nothing read).
    """

    frame: dd.DataFrame
    batches: list[BatchRef]
    split_rows: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.split_rows.values())

    def split(self, name: str) -> dd.DataFrame:
        """The rows of one split (``train``, ``validation``, ``test``), still lazy, without the split column."""
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {name!r}")
        return self.frame[self.frame[SPLIT_COLUMN] == name].drop(columns=[SPLIT_COLUMN])


def read_window(
    lake: Lake, spec: DatasetSpec, numbers: list[int], storage_options: Mapping[str, Any] | None = None
) -> DaskWindow:
    """The window of batches ``numbers`` (oldest first) as a lazy Dask DataFrame; reads manifests only.

    The parts' content hashes are not checked here (that needs a batch's rows in one place): the
    manifest names the part, and a stored batch is never overwritten.

    Args:
        storage_options: the lake's fsspec options (``Settings.storage_options()``), passed to the workers.

    Raises:
        DriftgateError: a batch of the window is not stored.
    """
    import dask.dataframe as dd
    from dask import config as dask_config

    paths, refs, counts = [], [], dict.fromkeys(SPLITS, 0)
    for n in numbers:
        manifest = lake.manifest(spec.name, n)
        if manifest is None:
            raise DriftgateError(f"batch {n} of {spec.name!r} is not stored: it cannot be part of a training window")
        paths.append(lake.fs.unstrip_protocol(lake.data_path(spec.name, n)))
        refs.append(BatchRef(n, manifest.sha256, lake.uri("raw", spec.name, f"batch={n}")))
        for split, rows in manifest.splits.items():
            counts[split] = counts.get(split, 0) + int(rows)
    columns = [*spec.feature_names, spec.target, SPLIT_COLUMN]
    # as pandas reads them (missing text is NaN, not pd.NA): the trainer's imputers and the models expect that
    with dask_config.set({"dataframe.convert-string": False}):
        frame = dd.read_parquet(paths, columns=columns, storage_options=dict(storage_options or {}))
    log.info("window of %s: batches %s, %s rows, %s partitions", spec.name, numbers, sum(counts.values()), len(paths))
    return DaskWindow(frame, refs, counts)


def sample_rows(frame: dd.DataFrame, rows: int, *, of: int, seed: int) -> pd.DataFrame:
    """About ``rows`` rows drawn uniformly (seeded) from ``of`` lazy rows, brought into this process."""
    if of <= 0:
        return frame.head(0)
    fraction = min(1.0, 1.1 * rows / of)  # a little over, then cut: every row has the same chance
    picked = frame.sample(frac=fraction, random_state=seed) if fraction < 1.0 else frame  # type: ignore[no-untyped-call]
    sample = picked.compute()  # type: ignore[no-untyped-call]
    return sample.head(rows).reset_index(drop=True)


def _concat(parts: list[Predictions]) -> Predictions:
    probas = [p.proba for p in parts if p.proba is not None]
    return Predictions(
        values=np.concatenate([p.values for p in parts]) if parts else np.array([]),
        proba=np.concatenate(probas) if probas and len(probas) == len(parts) else None,
        classes=parts[0].classes if parts else [],
    )


def partition_predictions(
    client: Client,
    frame: dd.DataFrame,
    spec: DatasetSpec,
    models: Mapping[str, Any],
    keep: list[str] | None = None,
) -> tuple[pd.DataFrame, dict[str, Predictions]]:
    """Every model's predictions of ``frame``'s rows, made on the workers partition by partition.

    Only the labels, the ``keep`` columns (as categories) and the predictions come back; the
    models travel to the workers once (one graph key).

    Args:
        frame: labelled rows (features and target), lazily.
        models: name -> a fitted local pipeline (e.g. ``{"challenger": ..., "champion": ...}``).
        keep: columns brought back beside the labels (the gate's slices: the categorical features).

    Returns:
        The labelled rows (target and ``keep``) and each model's :class:`Predictions`, in the same row order.
    """
    from dask.delayed import delayed

    keep = list(keep or [])
    shared = delayed(dict(models), pure=True)
    tasks = [delayed(score_part)(part, spec, shared, keep) for part in frame.to_delayed()]  # type: ignore[no-untyped-call]
    parts: list[dict[str, Any]] = client.compute(tasks, sync=True)  # type: ignore[no-untyped-call]
    rows = pd.concat([p["rows"] for p in parts], ignore_index=True) if parts else pd.DataFrame(columns=[spec.target])
    return rows, {name: _concat([p[name] for p in parts]) for name in models}
