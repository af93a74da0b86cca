"""Dataset specs: what a dataset's columns are, what is predicted, how it is judged.

One YAML file per dataset under ``datasets/``. Every stage reads the spec; nothing is
hard-wired to one dataset.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from driftgate.dataset.batch_sources import ApiBatches, BatchSource
from driftgate.errors import SpecError

Task = Literal["classification", "regression"]

NAME_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
"""What a dataset name may hold: it becomes part of paths (specs, suites, lake prefixes)."""

METRIC_DIRECTIONS: dict[str, Literal["maximize", "minimize"]] = {
    "rmse": "minimize",
    "mae": "minimize",
    "r2": "maximize",
    "roc_auc": "maximize",
    "f1": "maximize",
    "accuracy": "maximize",
    "log_loss": "minimize",
}


class Feature(BaseModel):
    """One input column."""

    name: str
    type: Literal["numeric", "categorical"]
    min: float | None = None
    max: float | None = None
    values: list[str] | None = None

    @model_validator(mode="after")
    def _check(self) -> Feature:
        if self.type == "categorical" and not self.values:
            raise ValueError(f"categorical feature {self.name!r} needs its allowed 'values'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"feature {self.name!r}: min {self.min} > max {self.max}")
        return self


class Metric(BaseModel):
    name: str
    direction: Literal["maximize", "minimize"]

    @model_validator(mode="after")
    def _check(self) -> Metric:
        expected = METRIC_DIRECTIONS.get(self.name)
        if expected is None:
            raise ValueError(f"unknown metric {self.name!r}; known: {sorted(METRIC_DIRECTIONS)}")
        if expected != self.direction:
            raise ValueError(f"metric {self.name!r} is to {expected}, not {self.direction}")
        return self


class Scenario(BaseModel):
    """How the data API replays the source: batches, and the drift it injects."""

    batch_size: int = Field(5000, gt=0)
    batches: int = Field(8, gt=0)
    base_batches: int = Field(3, ge=0, description="Batches drawn from the base distribution.")
    shift_feature: str | None = Field(None, description="Covariate shift: tilt the row mix here.")
    shift_strength: float = Field(0.8, description="Tilt of the row mix (in std units).")
    concept_shift: float = Field(0.0, description="Regression: target x (1+c). Class: flip share.")
    corrupt_batches: list[int] = Field(default_factory=list, description="Batches made invalid.")
    seed: int = 7


class ReadOptions(BaseModel):
    """How a dataset's CSV files are parsed (every reader of its files applies them)."""

    model_config = ConfigDict(extra="forbid")

    separator: str = Field(",", min_length=1, description="Field separator of CSV files.")
    skipinitialspace: bool = Field(False, description="Drop spaces after each separator (` a, b`).")
    na_values: list[str] = Field(default_factory=list, description="Extra strings read as missing (`?`).")
    keep_default_na: bool = Field(
        True, description="Also read pandas' default markers (NA, None, null, empty, ...) as missing."
    )
    encoding: str = Field("utf-8", description="Text encoding of CSV files.")

    def csv_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``pandas.read_csv`` that apply these options."""
        return {
            "sep": self.separator,
            "skipinitialspace": self.skipinitialspace,
            "na_values": self.na_values or None,
            "keep_default_na": self.keep_default_na,
            "encoding": self.encoding,
        }


CalendarPart = Literal["hour", "day_of_week", "month"]
CALENDAR_RANGES: dict[str, tuple[float, float]] = {"hour": (0.0, 23.0), "day_of_week": (0.0, 6.0), "month": (1.0, 12.0)}
"""The calendar parts a timestamp time column can teach (named ``<column>_<part>``), with their ranges."""


def calendar_feature_name(column: str, part: str) -> str:
    """The feature a part of a time column becomes: ``ts`` and ``hour`` give ``ts_hour``."""
    return f"{column}_{part}"


class TimeOrder(BaseModel):
    """How a dataset's rows are ordered in time (absent: no order, splits are random).

    With a time order, each batch's test rows are its latest rows, the search's folds chain
    forward, and the gate judges on the newest rows: no number about a model is measured on rows
    that lie between its training rows in time.
    """

    model_config = ConfigDict(extra="forbid")

    column: str | None = Field(
        None, description="A timestamp (or any orderable) column: rows are ordered by it; never a feature."
    )
    ordered: bool = Field(
        False, description="Rows arrive in time order (file order, the data API's order, the landing folder's)."
    )
    calendar: list[CalendarPart] = Field(
        default_factory=list,
        description="Parts of a timestamp time column learned as numeric features named <column>_<part> "
        "(hour, day_of_week with Monday 0, month), derived wherever rows arrive; the raw time is never a feature.",
    )

    @model_validator(mode="after")
    def _check(self) -> TimeOrder:
        if self.column is None and not self.ordered:
            raise ValueError("time: give a 'column' or 'ordered: true' (or leave the section out)")
        if self.calendar and self.column is None:
            raise ValueError("time.calendar needs a time 'column' to derive the parts from")
        if len(set(self.calendar)) != len(self.calendar):
            raise ValueError("time.calendar repeats a part")
        return self

    @property
    def calendar_features(self) -> dict[str, str]:
        """Each calendar feature's name and the part of the time column it holds."""
        if self.column is None:
            return {}
        return {calendar_feature_name(self.column, part): part for part in self.calendar}

    def describe(self) -> str:
        """One line: which rule orders the rows."""
        return f"ordered by column {self.column!r}" if self.column else "rows in arrival order"


class DatasetSpec(BaseModel):
    """A dataset: its columns, target, task and primary metric."""

    name: str = Field(pattern=NAME_PATTERN, description="Letters, digits, '_' and '-' (it names files).")
    task: Task
    target: str
    features: list[Feature]
    metric: Metric
    model_name: str
    source: str = Field(description="plotnine:<name>, synthetic:<task>, or a CSV/Parquet path.")
    positive_class: str | None = None
    target_min: float | None = Field(None, description="Regression: the lowest valid target value.")
    target_max: float | None = Field(None, description="Regression: the highest valid target value.")
    scenario: Scenario = Field(default_factory=Scenario)
    id_columns: list[str] = Field(
        default_factory=list, description="Key columns: never features; carried through to predictions."
    )
    group_key: str | None = Field(
        None,
        description="A key whose rows belong together (a patient, a customer): never a feature; every split "
        "(train, validation, test, the gate's rows) keeps all rows of one key value on one side.",
    )
    time: TimeOrder | None = Field(
        None,
        description="Time order of the rows (a column, or arrival order): out-of-time splits, forward-chaining "
        "folds, a gate on the newest rows. Absent: rows have no time order and splits are random.",
    )
    read: ReadOptions = Field(default_factory=ReadOptions, description="How the dataset's CSV files are parsed.")
    batches: BatchSource = Field(
        default_factory=ApiBatches, description="Where ingest-batches takes batches from: api, landing or sql."
    )

    @model_validator(mode="after")
    def _check(self) -> DatasetSpec:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError("feature names repeat")
        if self.target in names:
            raise ValueError(f"target {self.target!r} is also listed as a feature")
        overlap = sorted(set(self.id_columns) & {*names, self.target})
        if overlap:
            raise ValueError(f"id columns are never features or the target: {overlap}")
        if self.group_key is not None and self.group_key in {*names, self.target, *self.id_columns}:
            raise ValueError(f"group key {self.group_key!r} is never a feature, the target or an id column")
        column = self.time.column if self.time else None
        if column is not None and column in {*names, self.target, *self.id_columns, self.group_key}:
            raise ValueError(f"time column {column!r} is never a feature, the target, an id or the group key")
        types = {f.name: f.type for f in self.features}
        for feature in self.calendar_features:
            if types.get(feature) != "numeric":
                raise ValueError(f"calendar feature {feature!r} (time.calendar) must be listed as a numeric feature")
        return self

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def numeric(self) -> list[str]:
        return [f.name for f in self.features if f.type == "numeric"]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.features if f.type == "categorical"]

    @property
    def columns(self) -> list[str]:
        return [*self.feature_names, self.target]

    @property
    def time_column(self) -> str | None:
        """The column rows are ordered by, None without one."""
        return self.time.column if self.time else None

    @property
    def time_ordered(self) -> bool:
        """Rows have a time order (a time column or arrival order): splits and folds respect it."""
        return self.time is not None

    @property
    def calendar_features(self) -> dict[str, str]:
        """Features derived from the time column (name → part: hour, day_of_week, month); empty without."""
        return self.time.calendar_features if self.time else {}

    @property
    def drift_features(self) -> list[str]:
        """The features drift is tested on: all but the calendar ones (time passing moves those by design)."""
        calendar = self.calendar_features
        return [f for f in self.feature_names if f not in calendar]

    @property
    def key_columns(self) -> list[str]:
        """Columns a batch carries besides features and target: the id columns, the group key, the time column."""
        extra = [c for c in (self.group_key, self.time_column) if c]
        return [*self.id_columns, *extra]

    def feature(self, name: str) -> Feature:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    def better(self, a: float, b: float) -> bool:
        """True when score ``a`` is strictly better than ``b`` on the primary metric."""
        return a > b if self.metric.direction == "maximize" else a < b


def load_spec(name_or_path: str | Path, datasets_dir: Path = Path("datasets")) -> DatasetSpec:
    """Read a spec by name (``datasets/<name>.yaml``) or by path.

    Raises:
        SpecError: the file is missing or does not describe a valid dataset.
    """
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        check_dataset_name(str(name_or_path))
        path = datasets_dir / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in datasets_dir.glob("*.yaml")) if datasets_dir.is_dir() else []
        raise SpecError(f"no dataset spec at {path} (known datasets: {', '.join(known) or 'none'})")
    try:
        raw = yaml.safe_load(path.read_text())
        return DatasetSpec.model_validate(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        raise SpecError(f"dataset spec {path} is invalid: {exc}") from exc


def check_dataset_name(name: str) -> str:
    """``name`` if it is a valid dataset name (it becomes part of paths).

    Raises:
        SpecError: the name holds anything but letters, digits, '_' and '-' (or is empty or too long).
    """
    if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
        raise SpecError(f"dataset name {name!r} is invalid (not allowed in paths): use 1-128 letters, digits, '_', '-'")
    return name
