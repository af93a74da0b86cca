"""Where a dataset's rows come from: a bundled example, the synthetic generator, or a file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from driftgate.errors import SpecError
from driftgate.frames import normalize
from driftgate.spec import DatasetSpec
from driftgate.synthetic import make_frame

SYNTHETIC_ROWS = 60_000


def load_source(spec: DatasetSpec, source: str | None = None) -> pd.DataFrame:
    """All rows of a dataset, with the spec's columns in canonical dtypes.

    Args:
        spec: the dataset spec.
        source: overrides ``spec.source``: ``plotnine:<name>``, ``synthetic:<task>`` or a path.
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
        frame = read_table(Path(src))
    missing = [c for c in spec.columns if c not in frame.columns]
    if missing:
        raise SpecError(f"source {src} lacks columns named in spec {spec.name!r}: {missing}")
    return normalize(frame[spec.columns], spec)


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file as a frame.

    Raises:
        SpecError: the file is missing or unreadable.
    """
    if not path.is_file():
        raise SpecError(f"source file {path} does not exist")
    try:
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # parser errors of either format
        raise SpecError(f"cannot read {path}: {exc}") from exc
