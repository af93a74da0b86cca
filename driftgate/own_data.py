"""A user's file becomes a dataset: the spec inferred from it, its reference batch, where both are written.

``driftgate init`` parses its options, calls :func:`plan_dataset`, writes the suite (the validate
stage builds it from :attr:`DatasetPlan.reference`) and :func:`write_spec`, and prints the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from driftgate.dialect import Dialect, detect_file_dialect
from driftgate.errors import DriftgateError
from driftgate.infer import Inference, dataset_name_from, infer_spec, spec_yaml
from driftgate.names import suite_path
from driftgate.scenario import make_batch, plan_batches
from driftgate.settings import Settings
from driftgate.sources import load_source, read_table
from driftgate.spec import DatasetSpec


@dataclass(frozen=True)
class InitOptions:
    """What a person said about their file (``driftgate init``'s options)."""

    target: str
    name: str | None = None
    task: str = "auto"
    metric: str | None = None
    id_columns: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    group: str | None = None
    categorical: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    time_column: str | None = None
    ordered: bool = False
    no_time: bool = False
    no_calendar: bool = False


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


def plan_dataset(settings: Settings, path: str, opts: InitOptions, *, force: bool = False) -> DatasetPlan:
    """Read ``path``, infer its spec and take its first batch as the suite's reference; writes nothing."""
    ds_name = opts.name or dataset_name_from(path)
    spec_file = settings.datasets_dir / f"{ds_name}.yaml"
    if spec_file.exists() and not force:
        raise DriftgateError(f"{spec_file} exists; use --force to replace it")
    options = settings.storage_options(path)
    dialect = detect_file_dialect(path, options)
    read = dialect.read if dialect else None
    frame = read_table(path, read=read, storage_options=options)
    inferred = infer_spec(
        frame,
        opts.target,
        name=ds_name,
        source=path,
        read=read,
        task=opts.task,
        metric=opts.metric,
        id_columns=opts.id_columns,
        exclude=opts.exclude,
        keep=opts.keep,
        group=opts.group,
        categorical=opts.categorical,
        numeric=opts.numeric,
        time_column=opts.time_column,
        ordered=opts.ordered,
        no_time=opts.no_time,
        calendar=not opts.no_calendar,
    )
    rows = load_source(inferred.spec, storage_options=options)
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
