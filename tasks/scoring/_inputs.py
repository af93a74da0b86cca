"""Inputs of batch scoring: which files, read with the dataset's read options, rows already broken.

A CSV row with fewer or more fields than the header, or a last line with no final newline (a
file cut short), is marked broken here so the contract check rejects it with that reason.
"""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from driftgate.dataset.dialect import TABLE_ENDINGS, compression_of, decompress
from driftgate.dataset.frames import add_calendar
from driftgate.dataset.sources import read_table
from driftgate.dataset.spec import DatasetSpec
from driftgate.errors import DriftgateError
from driftgate.stores.lake import Lake
from driftgate.tasks.policy import IO_RETRIES

PREDICTIONS, REJECTED = ".predictions.parquet", ".rejected.parquet"


@dataclass(frozen=True)
class InputFile:
    """One input file, read: its rows, and rows already known broken (row position -> reason)."""

    path: str
    frame: pd.DataFrame
    broken: dict[int, str]


def output_paths(path: str) -> tuple[str, str]:
    stem = path.rsplit(".", 1)[0]
    return stem + PREDICTIONS, stem + REJECTED


def inputs_under(fs: Any, path: str) -> list[str]:
    """The CSV/Parquet files at ``path`` (a file, or every one under a folder/prefix), outputs excluded."""
    fs.invalidate_cache(path)  # s3fs's cached listing would miss files written since
    if fs.isfile(path):
        return [path]
    found = [p for p in fs.find(path) if p.lower().endswith(TABLE_ENDINGS) and not p.endswith((PREDICTIONS, REJECTED))]
    return sorted(found)


def broken_csv_rows(data: bytes, spec: DatasetSpec, rows: int) -> dict[int, str]:
    """Rows of a CSV whose field count differs from the header's, and a last line cut short."""
    text = data.decode(spec.read.encoding, errors="replace")
    records = [r for r in csv.reader(io.StringIO(text), delimiter=spec.read.separator) if r]
    broken: dict[int, str] = {}
    if len(records) - 1 == rows:  # one record per row read: field counts can be compared
        width = len(records[0])
        for i, rec in enumerate(records[1:]):
            if len(rec) != width:
                broken[i] = f"has {len(rec)} fields, the header has {width} (line cut short or misquoted?)"
    if rows and data and not data.endswith((b"\n", b"\r")):
        broken.setdefault(rows - 1, "the file ends inside this line (no final newline): it may be cut short")
    return broken


def read_input(fs: Any, path: str, spec: DatasetSpec) -> InputFile:
    """Read one input with the dataset's read options.

    Raises:
        DriftgateError: the file cannot be parsed at all.
    """
    data = fs.cat_file(path)
    with tempfile.TemporaryDirectory(prefix="driftgate-score-") as tmp:
        local = Path(tmp) / Path(path).name
        local.write_bytes(data)
        try:
            # calendar features come from the time column, as at training (a file may carry either)
            frame = add_calendar(read_table(local, spec=spec).reset_index(drop=True), spec)
        except DriftgateError as exc:
            raise DriftgateError(f"cannot read {path}: {exc}") from exc
    compression = compression_of(path)
    is_csv = path.lower().endswith(".csv") or compression is not None
    broken = broken_csv_rows(decompress(data, compression), spec, len(frame)) if is_csv else {}
    return InputFile(path, frame, broken)


def input_location(path: str, lake: Lake) -> str:
    """Where ``path`` points: a URL as given, an existing local path (relative ones too), else a lake prefix."""
    if "://" in path:
        return path
    local = Path(path)
    if local.exists() or local.is_absolute() or path.startswith("."):
        return str(local.resolve())
    return lake.uri(path)


def input_fs(url: str, storage_options: dict[str, Any]) -> tuple[Any, str]:
    return fsspec.core.url_to_fs(url, **storage_options)  # type: ignore[no-any-return]


# --- Prefect wrappers ------------------------------------------------------------------


@task(name="list-inputs", cache_policy=NO_CACHE, **IO_RETRIES)
def list_inputs_task(url: str, storage_options: dict[str, Any]) -> list[str]:
    fs, root = input_fs(url, storage_options)
    return inputs_under(fs, root)


@task(name="read-input", task_run_name="read-{path}", cache_policy=NO_CACHE, **IO_RETRIES)
def read_input_task(url: str, storage_options: dict[str, Any], path: str, spec: DatasetSpec) -> InputFile:
    fs, _ = input_fs(url, storage_options)
    return read_input(fs, path, spec)
