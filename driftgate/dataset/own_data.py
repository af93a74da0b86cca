"""A user's file becomes a dataset: the spec inferred from it, its reference batch, where both are written.

``driftgate init`` parses its options, calls :func:`plan_dataset`, writes the suite (the validate
stage builds it from :attr:`DatasetPlan.reference`) and :func:`write_spec`, and prints the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from driftgate.dataset.dialect import Dialect, detect_file_dialect
from driftgate.dataset.infer import Inference, InitOptions, dataset_name_from, infer_spec, spec_yaml
from driftgate.dataset.scenario import make_batch, plan_batches
from driftgate.dataset.sources import conform, read_table
from driftgate.dataset.spec import DatasetSpec
from driftgate.errors import DriftgateError
from driftgate.names import suite_path
from driftgate.settings import Settings


@dataclass(frozen=True)
class DatasetPlan:
    """The inferred dataset, before anything is written."""

    source: str
    inferred: Inference
    dialect: Dialect | None
    shape: tuple[int, int]
    reference: pd.DataFrame
    spec_file: Path
    suite_file: Path

    @property
    def spec(self) -> DatasetSpec:
        return self.inferred.spec

    def read_line(self) -> str | None:
        """How the file was read, when it needed sniffing (separator, spaces, missing markers)."""
        if self.dialect is None:
            return None
        seen = self.dialect.markers_seen_in.items()
        markers = ", ".join(f"{m!r} (in {', '.join(c[:3])})" for m, c in seen) or "none"
        spaces = "skipped" if self.dialect.read.skipinitialspace else "none"
        return f"read: separator {self.dialect.read.separator!r}, spaces after separators {spaces}, missing {markers}"


def plan_dataset(settings: Settings, path: str, opts: InitOptions) -> DatasetPlan:
    """Read ``path`` (once), infer its spec and take its first batch as the suite's reference; writes nothing."""
    ds_name = opts.name or dataset_name_from(path)
    spec_file = settings.datasets_dir / f"{ds_name}.yaml"
    if spec_file.exists() and not opts.force:
        raise DriftgateError(f"{spec_file} exists; use {opts.said('force')} to replace it")
    options = settings.storage_options(path)
    dialect = detect_file_dialect(path, options)
    read = dialect.read if dialect else None
    frame = read_table(path, read=read, storage_options=options)
    inferred = infer_spec(frame, opts, name=ds_name, source=path, read=read)
    rows = conform(frame, inferred.spec, path)
    try:
        reference = make_batch(rows, inferred.spec, plan_batches(rows, inferred.spec), 1)
    except ValueError as exc:
        raise DriftgateError(f"{path}: {exc}") from exc
    return DatasetPlan(
        source=path,
        inferred=inferred,
        dialect=dialect,
        shape=frame.shape,
        reference=reference,
        spec_file=spec_file,
        suite_file=suite_path(settings.expectations_dir, ds_name),
    )


def write_spec(plan: DatasetPlan, note: str) -> None:
    """Write the plan's spec YAML (with ``note`` as its header comment)."""
    plan.spec_file.parent.mkdir(parents=True, exist_ok=True)
    plan.spec_file.write_text(spec_yaml(plan.spec, note))
