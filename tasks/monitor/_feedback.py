"""Labelled live predictions become a ``feedback`` batch of the lake, each prediction exactly once.

Feedback batches are numbered from :data:`FEEDBACK_FIRST` up (above every stored batch), apart
from the data API's own numbers (so a later API batch never collides with one), and are validated by the dataset's
suite like every batch; training uses an accepted one like any other. Which prediction ids went
into which batch is recorded in ``state/<dataset>/feedback/batch=<n>.json`` *before* the batch
is written, so a crash between the two is finished on the next run with the same rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from driftgate.dataset.frames import SPLIT_COLUMN, SPLIT_RULE, assign_splits, group_keys, normalize
from driftgate.dataset.spec import DatasetSpec
from driftgate.policies import SplitPolicy
from driftgate.stores.lake import Lake
from driftgate.stores.predictions_db import CHAMPION_ROLE, read_labelled

log = logging.getLogger(__name__)

FEEDBACK_FIRST = 1_000_001
SOURCE = "feedback"


@dataclass(frozen=True)
class FeedbackBatch:
    """A feedback batch written (or finished) by this run."""

    number: int
    rows: int
    accepted: bool


def _state_dir(lake: Lake, dataset: str) -> str:
    return lake.path("state", dataset, SOURCE)


def feedback_records(lake: Lake, dataset: str) -> dict[int, dict[str, Any]]:
    """The recorded feedback batches: number -> ``{"ids": [...], "rows": n, "source": "feedback"}``."""
    base = _state_dir(lake, dataset)
    if not lake.exists(base):
        return {}
    out = {}
    for entry in lake.fs.ls(base, detail=False):
        name = entry.rstrip("/").rsplit("/", 1)[-1]
        if name.startswith("batch=") and name.endswith(".json"):
            record = lake.read_json(entry)
            if record is not None:
                out[int(name.removeprefix("batch=").removesuffix(".json"))] = record
    return out


def feedback_frame(spec: DatasetSpec, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Logged inputs with their labels as a batch of the spec's columns."""
    data = pd.DataFrame([r["inputs"] for r in rows]).reindex(columns=spec.feature_names)
    for i, col in enumerate(getattr(spec, "id_columns", None) or []):  # ids were taken out of the inputs
        data[col] = [r["prediction_id"] for r in rows] if i == 0 else None
    if spec.group_key:  # live requests carry no group key: those rows are split by position
        data[spec.group_key] = None
    if spec.time_column:  # nor a time column: they are in the order they were logged
        data[spec.time_column] = None
    data[spec.target] = [r["label"] for r in rows]
    return normalize(data, spec)


def _write(
    lake: Lake, spec: DatasetSpec, number: int, rows: list[dict[str, Any]], suite_file: Path, seed: int
) -> FeedbackBatch:
    from driftgate.tasks.validate import load_suite, validate_stored_batch  # GX imports in ~5 s: only when needed

    frame = feedback_frame(spec, rows)
    frame[SPLIT_COLUMN] = assign_splits(
        len(frame), number, seed, keys=group_keys(frame, spec), ordered=spec.time_ordered
    )
    order = spec.time.describe() if spec.time else None
    frame.attrs[SPLIT_RULE] = SplitPolicy(seed=seed).describe(order, spec.group_key)
    lake.write_batch_once(spec.name, number, frame)
    if lake.is_quarantined(spec.name, number):
        accepted = False
    elif number in lake.accepted_numbers(spec.name):
        accepted = True
    else:
        accepted = validate_stored_batch(lake, spec, number, load_suite(suite_file)).success
    log.info("feedback batch %s of %s: %s labelled predictions, accepted: %s", number, spec.name, len(rows), accepted)
    return FeedbackBatch(number, len(frame), accepted)


def store_feedback_batch(
    lake: Lake, spec: DatasetSpec, db_url: str, model_name: str, *, suite_file: Path, min_rows: int, seed: int
) -> FeedbackBatch | None:
    """Turn the labelled champion predictions no batch holds yet into the next feedback batch.

    Returns the batch written (or finished after an interrupted run), None while fewer than
    ``min_rows`` new labelled predictions exist.
    """
    labelled = [r for r in read_labelled(db_url, model_name) if r["role"] == CHAMPION_ROLE]
    by_id = {r["prediction_id"]: r for r in labelled}
    records = feedback_records(lake, spec.name)
    for number, record in sorted(records.items()):  # an interrupted run: same ids, same rows, same number
        if lake.manifest(spec.name, number) is None or not (
            lake.is_quarantined(spec.name, number) or number in lake.accepted_numbers(spec.name)
        ):
            return _write(lake, spec, number, [by_id[i] for i in record["ids"] if i in by_id], suite_file, seed)
    taken = {i for record in records.values() for i in record["ids"]}
    pending = [r for r in labelled if r["prediction_id"] not in taken]
    if len(pending) < min_rows:
        return None
    # above every stored number too: landing and SQL sources number their batches max(stored) + 1
    number = max([FEEDBACK_FIRST - 1, *records, *lake.stored_numbers(spec.name)]) + 1
    ids = [r["prediction_id"] for r in pending]
    lake.write_json(
        f"{_state_dir(lake, spec.name)}/batch={number}.json", {"source": SOURCE, "rows": len(ids), "ids": ids}
    )
    return _write(lake, spec, number, pending, suite_file, seed)
