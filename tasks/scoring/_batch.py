"""Score files with the champion: check each row against the input contract, score, write.

Rows are checked with the service's own contract (:class:`driftgate.models.contract.FieldRule`): a row
the service would refuse is not scored here either, it goes to ``<input>.rejected.parquet``
with the field and the reason. A CSV row with fewer or more fields than the header, or a last
line with no final newline (a file cut short), is rejected the same way.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from mlflow.models import get_model_info
from mlflow.tracking import MlflowClient
from prefect import task
from prefect.cache_policies import NO_CACHE

from driftgate.dataset.spec import DatasetSpec
from driftgate.errors import DriftgateError
from driftgate.models.contract import FieldRule, InputContract, shown_values
from driftgate.models.predict import predict
from driftgate.registry.client import champion_version, load_version, model_uri
from driftgate.tasks.policy import IO_RETRIES
from driftgate.tasks.scoring._inputs import InputFile, input_fs, output_paths

log = logging.getLogger(__name__)
ROW, ROW_FIELD = "row", "row"  # output column: the row's position in the input (0-based)


@dataclass(frozen=True)
class ScoringModel:
    """The model that scores, and the service's input contract for it."""

    name: str
    version: str
    model: Any
    contract: InputContract


@dataclass(frozen=True)
class RowCheck:
    """Which rows the contract accepts, the model input for them, and the rejections."""

    valid: np.ndarray
    model_input: pd.DataFrame
    rejected: pd.DataFrame
    missing_columns: list[str] = field(default_factory=list)
    unexpected_columns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScoredFile:
    """What scoring one input produced."""

    input: str
    scored: int
    rejected: int
    output: str | None
    rejected_output: str | None
    missing_columns: list[str] = field(default_factory=list)
    unexpected_columns: list[str] = field(default_factory=list)

    def column_lines(self) -> list[str]:
        """One line each for the model's columns the file lacks and the file's columns the model does not know."""
        lines = []
        if self.missing_columns:
            lines.append(f"  missing columns ({len(self.missing_columns)}): {shown_values(self.missing_columns)}")
        if self.unexpected_columns:
            unexpected = shown_values(self.unexpected_columns)
            lines.append(f"  unexpected columns ({len(self.unexpected_columns)}): {unexpected}")
        return lines

    def summary(self) -> dict[str, str]:
        """One row of the run's artifact table."""
        return {
            "input": self.input,
            "scored": str(self.scored),
            "rejected": str(self.rejected),
            "predictions": self.output or "-",
            "rejected rows": self.rejected_output or "-",
        }


def load_scoring_model(client: MlflowClient, spec: DatasetSpec, model_name: str, max_records: int) -> ScoringModel:
    """The champion and its contract (the spec's rules for the columns of the model's signature).

    Raises:
        DriftgateError: the model has no champion.
    """
    mv = champion_version(client, model_name)
    if mv is None:
        raise DriftgateError(f"model {model_name!r} has no champion to predict with")
    signature = get_model_info(model_uri(model_name, mv.version)).signature
    columns = signature.inputs.input_names() if signature is not None else None
    contract = InputContract.from_spec(spec, max_records, columns)
    return ScoringModel(model_name, str(mv.version), load_version(model_name, mv.version), contract)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _cell(rule: FieldRule, value: Any) -> tuple[Any, str | None]:
    """A file's cell as the contract sees it: text is all a CSV has, so numbers may arrive as text."""
    if _missing(value):
        return rule.check(None)
    if isinstance(value, np.generic):
        value = value.item()
    if rule.kind == "numeric" and isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None, f"must be a number, got {value!r}"
    elif rule.kind == "categorical" and not isinstance(value, str):
        value = str(value)
    return rule.check(value)


def check_rows(file: InputFile, contract: InputContract, id_columns: Sequence[str] = ()) -> RowCheck:
    """Check every row with the contract; the model input of the valid rows and one rejection per bad row.

    The check also names the model's columns the file lacks and the file's columns that are neither
    inputs nor ``id_columns`` (a header that differs is then visible at once, not only per row).
    """
    frame, n = file.frame, len(file.frame)
    problems: dict[int, list[tuple[str, str]]] = {i: [(ROW_FIELD, r)] for i, r in file.broken.items()}
    columns: dict[str, list[Any]] = {}
    for rule in contract.fields:
        if rule.name not in frame.columns:
            for i in range(n):
                problems.setdefault(i, []).append((rule.name, "is required (the file has no such column)"))
            columns[rule.name] = [None] * n
            continue
        values = []
        for i, raw in enumerate(frame[rule.name].tolist()):
            value, reason = _cell(rule, raw)
            if reason:
                problems.setdefault(i, []).append((rule.name, reason))
            values.append(value)
        columns[rule.name] = values
    valid = np.ones(n, dtype=bool)
    valid[list(problems)] = False
    kept = {name: [v for v, ok in zip(col, valid, strict=True) if ok] for name, col in columns.items()}
    rejected = pd.DataFrame(
        [
            {ROW: i, "field": found[0][0], "reason": found[0][1], "problems": "; ".join(f"{f}: {r}" for f, r in found)}
            for i, found in sorted(problems.items())
        ],
        columns=[ROW, "field", "reason", "problems"],
    )
    if len(rejected):  # the rejected rows themselves, as text, so they can be fixed and sent again
        raw = frame.iloc[rejected[ROW].to_numpy()].astype("string").reset_index(drop=True)
        rejected = pd.concat([rejected, raw.drop(columns=[c for c in raw if c in rejected])], axis=1)
    missing = [r.name for r in contract.fields if r.name not in frame.columns]
    unexpected = [str(c) for c in frame.columns if c not in set(contract.names) | set(id_columns)]
    return RowCheck(valid, contract.frame(kept), rejected, missing, unexpected)


def score_rows(
    champion: ScoringModel, task: str, file: InputFile, check: RowCheck, id_columns: list[str]
) -> pd.DataFrame:
    """Predictions of the valid rows, in input order, with their row position, id columns and model version."""
    out = pd.DataFrame({ROW: np.flatnonzero(check.valid)})
    for col in id_columns:
        if col in file.frame.columns:
            out[col] = file.frame[col].to_numpy()[check.valid]
    if not len(out):
        return out
    scored = predict(champion.model, task, check.model_input)
    out["prediction"] = scored.labels() if scored.proba is not None else scored.values
    if scored.proba is not None:
        for i, c in enumerate(scored.classes):
            out[f"proba_{c}"] = scored.proba[:, i]
    out["model_name"], out["model_version"] = champion.name, champion.version
    return out


def write_outputs(fs: Any, path: str, scored: pd.DataFrame, rejected: pd.DataFrame) -> ScoredFile:
    """Predictions (if any row was valid) and rejections (if any) beside the input; stale ones removed."""
    dest, rejected_dest = output_paths(path)
    written: dict[str, str | None] = {}
    for frame, target in ((scored, dest), (rejected, rejected_dest)):
        if len(frame):
            buf = io.BytesIO()
            frame.to_parquet(buf, index=False)
            with fs.open(target, "wb") as fh:
                fh.write(buf.getvalue())
            written[target] = target
        else:
            if fs.exists(target):  # an older run's output would describe rows this file no longer has
                fs.rm(target)
            written[target] = None
    log.info("%s: %s rows scored, %s rejected", path, len(scored), len(rejected))
    return ScoredFile(path, len(scored), len(rejected), written[dest], written[rejected_dest])


# --- Prefect wrappers ------------------------------------------------------------------


@task(name="validate-rows", task_run_name="validate-rows-{file.path}", cache_policy=NO_CACHE)
def check_rows_task(file: InputFile, contract: InputContract, id_columns: Sequence[str] = ()) -> RowCheck:
    return check_rows(file, contract, id_columns)


@task(name="score-rows", task_run_name="score-rows-{file.path}", cache_policy=NO_CACHE)
def score_rows_task(
    champion: ScoringModel, task: str, file: InputFile, check: RowCheck, id_columns: list[str]
) -> pd.DataFrame:
    return score_rows(champion, task, file, check, id_columns)


@task(name="load-scoring-model", cache_policy=NO_CACHE)
def load_scoring_model_task(client: MlflowClient, spec: DatasetSpec, model_name: str, max_records: int) -> ScoringModel:
    return load_scoring_model(client, spec, model_name, max_records)


@task(name="write-predictions", task_run_name="write-{path}", cache_policy=NO_CACHE, **IO_RETRIES)
def write_outputs_task(
    url: str, storage_options: dict[str, Any], path: str, scored: pd.DataFrame, rejected: pd.DataFrame
) -> ScoredFile:
    fs, _ = input_fs(url, storage_options)
    return write_outputs(fs, path, scored, rejected)
