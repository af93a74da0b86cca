"""Column types and content hashes of batches, the same whatever the transport."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from driftgate.dataset.spec import DatasetSpec

SPLIT_COLUMN = "_split"
SPLIT_RULE = "split_rule"
"""The frame attribute (``DataFrame.attrs``) where ingest leaves the words of the split's rule for the manifest."""
SPLITS = ("train", "validation", "test")
SPLIT_SHARES = (0.7, 0.15, 0.15)
GAP = "gap"
"""The split label of rows left out between training and the rows that judge it (time-ordered batches)."""


def _as_text(value: Any) -> str | None:
    """A category as text; a whole number read as a float (a code column with gaps) stays ``7``, not ``7.0``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def normalize(df: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """Give a batch canonical dtypes without hiding any problem in it; derive its calendar features.

    Numeric columns become float64 and categorical ones strings; a column of the wrong kind
    (text in a numeric column) is kept as text so validation sees and names it. Missing or
    extra columns are left as they are, and id columns keep their values untouched (a key
    read as ``17`` stays ``17``, not ``17.0``).
    """
    df = add_calendar(df, spec)
    out = {}
    categorical = set(spec.categorical)
    if spec.task == "classification":
        categorical.add(spec.target)
    for col in df.columns:
        s = df[col]
        if col in spec.key_columns:
            out[col] = s
        elif col in categorical:
            out[col] = s.map(_as_text).astype("str") if s.notna().all() else s.map(_as_text)
        elif pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            out[col] = s.map(_as_text)
        else:
            out[col] = s.astype("float64")
    return pd.DataFrame(out, index=df.index).reset_index(drop=True)


def content_hash(df: pd.DataFrame) -> str:
    """sha256 of a frame's columns, dtypes and values (not its index, not the split)."""
    data = df.drop(columns=[SPLIT_COLUMN], errors="ignore")
    h = hashlib.sha256()
    h.update(json.dumps([[c, str(t)] for c, t in data.dtypes.items()]).encode())
    if len(data):
        h.update(pd.util.hash_pandas_object(data, index=False).to_numpy().tobytes())
    return h.hexdigest()


def assign_splits(
    n_rows: int,
    batch_number: int,
    seed: int = 0,
    *,
    keys: pd.Series | None,
    shares: tuple[float, float, float] = SPLIT_SHARES,
    ordered: bool = False,
    gap_rows: int = 0,
) -> np.ndarray:
    """Deterministic train/validation/test labels for the rows of batch ``batch_number``.

    Args:
        n_rows: rows in the batch.
        batch_number: the batch (rows without a key are split by position, seeded by it).
        seed: the split seed.
        keys: the group key's value per row (the spec's ``group_key`` column), or None when the
            dataset has none. A key's side comes from a hash of its value, not of the batch, so
            every row of one patient or customer lands on the same side in every batch; every
            caller passes them (None explicitly) so none can forget.
        shares: train, validation and test shares.
        ordered: the rows are in time order (oldest first): see :func:`ordered_splits`.
        gap_rows: with ``ordered``, rows left out (label ``gap``) between training and validation.
    """
    if ordered:
        return ordered_splits(n_rows, shares=shares, gap_rows=gap_rows, keys=keys)
    rng = np.random.default_rng([seed, batch_number])
    u = rng.random(n_rows)
    if keys is not None:
        if len(keys) != n_rows:
            raise ValueError(f"{len(keys)} group keys for {n_rows} rows")
        present = keys.notna().to_numpy()
        text = keys[present].map(str).astype(object).add(f"|{seed}")
        hashed = pd.util.hash_pandas_object(text, index=False).to_numpy()
        u[present] = (hashed >> np.uint64(11)).astype(np.float64) / float(2**53)
    cuts = np.cumsum(shares)[:-1]
    return np.asarray(SPLITS, dtype=object)[np.searchsorted(cuts, u, side="right")]


def ordered_splits(
    n_rows: int, *, shares: tuple[float, float, float], gap_rows: int, keys: pd.Series | None
) -> np.ndarray:
    """Out-of-time labels of a batch whose rows are in time order: train, gap, validation, test.

    The test rows are the latest ``shares[2]`` of rows, validation the ``shares[1]`` just before
    them, and up to ``gap_rows`` rows before validation (never more than half the training rows)
    are labelled ``gap`` and used by no side. With group ``keys``, every row of a key takes the side
    of the key's first row, so a key never sits on two sides (a key first seen late is tested).
    """
    n_test = round(n_rows * shares[2])
    n_val = round(n_rows * shares[1])
    n_train = max(n_rows - n_test - n_val, 0)
    gap = min(gap_rows, n_train // 2)
    bounds = np.array([n_train - gap, n_train, n_train + n_val])
    labels = np.asarray(("train", GAP, "validation", "test"), dtype=object)
    position = np.arange(n_rows)
    if keys is not None:
        if len(keys) != n_rows:
            raise ValueError(f"{len(keys)} group keys for {n_rows} rows")
        text = keys.map(str).where(keys.notna(), None).to_numpy(dtype=object)
        present = keys.notna().to_numpy()
        first = pd.Series(position[present]).groupby(text[present]).transform("min").to_numpy()
        position[present] = first
    return labels[np.searchsorted(bounds, position, side="right")]


def parse_times(values: pd.Series) -> pd.Series:
    """Timestamps of a column as UTC datetimes (naive ones read as written); NaT where a value is no time.

    Numbers are never read as times (an epoch or a step counter is ordered as a number instead).
    """
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    texts = values if pd.api.types.is_datetime64_any_dtype(values) else values.map(_time_text)
    return pd.to_datetime(texts, errors="coerce", utc=True, format="mixed")


def _time_text(value: Any) -> Any:
    """A value that may be a time (text, a datetime) as itself; anything else (a number, a flag) as None."""
    return None if isinstance(value, (bool, int, float, np.number)) else value


def calendar_parts(times: pd.Series, parts: Iterable[str]) -> dict[str, np.ndarray]:
    """The parts (``hour``, ``day_of_week`` with Monday 0, ``month``) of parsed times, as floats (NaN for NaT)."""
    out = {}
    for part in parts:
        values = getattr(times.dt, part)
        out[part] = values.to_numpy(dtype=float, na_value=np.nan)
    return out


def add_calendar(df: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """``df`` with the spec's calendar features derived from its time column (a copy; ``df`` itself when none).

    Where a row's time is missing or no time, a calendar value the row already carries is kept (rows
    read back from the prediction log carry the values the service derived); else it is missing.
    """
    calendar, column = spec.calendar_features, spec.time_column
    if not calendar or column is None or column not in df.columns:
        return df
    times = parse_times(df[column])
    parts = calendar_parts(times, set(calendar.values()))
    known = times.notna().to_numpy()
    out = df.copy()
    for name, part in calendar.items():
        derived = parts[part]
        if name in df.columns:
            derived = np.where(known, derived, pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float))
        out[name] = derived
    return out


def time_order(frame: pd.DataFrame, column: str | None) -> np.ndarray:
    """The row positions of ``frame`` sorted by time (stable: ties and arrival order kept).

    ``column`` None: arrival order. A column that parses as datetimes is ordered as times, a numeric
    one as numbers, anything else as text; rows without a value come last.
    """
    if column is None or column not in frame.columns:
        return np.arange(len(frame))
    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_datetime64_any_dtype(values):
        parsed = parse_times(values)
        if parsed.notna().sum() >= values.notna().sum():
            values = parsed
    present = np.flatnonzero(values.notna().to_numpy())
    order = present[np.argsort(values.iloc[present].to_numpy(), kind="stable")]
    return np.concatenate([order, np.flatnonzero(values.isna().to_numpy())])


def group_keys(frame: pd.DataFrame, spec: DatasetSpec) -> pd.Series | None:
    """The group key column of a batch (what :func:`assign_splits` hashes), or None when the spec has none."""
    if spec.group_key is None:
        return None
    if spec.group_key not in frame.columns:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return frame[spec.group_key]
