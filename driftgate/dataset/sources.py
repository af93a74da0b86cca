"""Where a dataset's rows come from: a bundled example, the synthetic generator, or a file.

Every file of a dataset (its source, landed batches, inputs of batch predictions) is read by
:func:`read_table`, which applies the spec's ``read:`` options, so a CSV dialect is described
once and honoured everywhere.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd

from driftgate.dataset.dialect import compression_of, decompress
from driftgate.dataset.frames import add_calendar, normalize
from driftgate.dataset.spec import DatasetSpec, ReadOptions
from driftgate.dataset.synthetic import make_frame
from driftgate.errors import SpecError

SYNTHETIC_ROWS = 60_000


def load_source(
    spec: DatasetSpec, source: str | None = None, storage_options: dict[str, Any] | None = None
) -> pd.DataFrame:
    """All rows of a dataset: the spec's columns (and id columns) in canonical dtypes.

    Args:
        spec: the dataset spec.
        source: overrides ``spec.source``: ``plotnine:<name>``, ``synthetic:<task>``, a path or an
            ``s3://`` URL.
        storage_options: fsspec options for ``s3://`` sources (endpoint, keys).

    Raises:
        SpecError: the source is unknown, unreadable, or lacks a column the spec names.
    """
    src = source or spec.source
    if src.startswith("plotnine:"):
        try:
            from plotnine import data as plotnine_data
        except ImportError as exc:
            raise SpecError(
                f"dataset {spec.name!r} comes from plotnine, which is not installed; "
                "install the examples extra: uv sync --extra examples"
            ) from exc
        frame = getattr(plotnine_data, src.removeprefix("plotnine:")).copy()
    elif src.startswith("synthetic:"):
        task = src.removeprefix("synthetic:")
        if task not in ("classification", "regression"):
            raise SpecError(f"synthetic source must be classification or regression, not {task!r}")
        frame = make_frame(task, SYNTHETIC_ROWS, seed=0)  # type: ignore[arg-type]
    else:
        frame = read_table(src, spec=spec, storage_options=storage_options)
    return conform(frame, spec, src)


def conform(frame: pd.DataFrame, spec: DatasetSpec, source: str) -> pd.DataFrame:
    """A table as read from ``source``, as the dataset's rows: the spec's columns (and id columns) in
    canonical dtypes, the calendar features derived from the time column (never read from the file).

    Raises:
        SpecError: the table lacks a column the spec names.
    """
    frame = add_calendar(frame, spec)
    wanted = [*spec.columns, *spec.key_columns]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise SpecError(f"source {source} lacks columns named in spec {spec.name!r}: {missing}")
    return normalize(frame[wanted], spec)


def read_table(
    path: str | Path,
    *,
    spec: DatasetSpec | None = None,
    read: ReadOptions | None = None,
    storage_options: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """A CSV or Parquet file (local path, ``file://`` or ``s3://`` URL) as a frame.

    Args:
        path: the file; ``.parquet`` is read as Parquet, anything else as CSV (``.gz``, ``.bz2``,
            ``.zip``, ``.xz`` and ``.zst`` endings decompressed).
        spec: the dataset whose ``read:`` options apply to CSV files.
        read: read options to use instead of the spec's (``driftgate init`` passes the detected ones).
        storage_options: fsspec options for remote URLs.

    Raises:
        SpecError: the file is missing, empty or unreadable.
    """
    options = read or (spec.read if spec is not None else ReadOptions())
    url = str(path)
    try:
        fs, local = fsspec.core.url_to_fs(url, **(storage_options or {}))
        if not fs.isfile(local):
            raise SpecError(f"source file {url} does not exist")
        with fs.open(local, "rb") as fh:
            if url.endswith(".parquet"):
                return pd.read_parquet(fh)
            compression = compression_of(url)
            if compression in ("zip", "zstd"):  # one member / an optional codec: through driftgate's own reader
                return pd.read_csv(io.BytesIO(decompress(fh.read(), compression)), **options.csv_kwargs())
            return pd.read_csv(fh, compression=compression, **options.csv_kwargs())
    except SpecError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise SpecError(f"cannot read {url}: the file is empty") from exc
    except Exception as exc:  # parser, codec and transport errors of either format: one line for a person
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError(f"cannot read {url}: {detail}") from exc
