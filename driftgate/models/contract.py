"""The model's input contract: which fields a record must carry, of which type, in which range.

Built from the dataset spec and cross-checked against the model's MLflow signature. Records are
decoded straight into column lists (no DataFrame per request); every problem is reported with
the record index, the field and the reason, so the API can answer 4xx instead of guessing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from driftgate.dataset.frames import calendar_parts, parse_times
from driftgate.dataset.spec import DatasetSpec


@dataclass(frozen=True)
class Problem:
    """One reason a request was refused."""

    field: str
    reason: str
    record: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "reason": self.reason}
        if self.record is not None:
            out["record"] = self.record
        return out


class ContractError(ValueError):
    """The request breaks the input contract; ``problems`` says where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0]
        where = f"records[{first.record}].{first.field}" if first.record is not None else first.field
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{where}: {first.reason}{more}")


def json_kind(value: Any) -> str:
    """A value's type in JSON's words (``string``, ``array``, ``null``), never a Python type name."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, (list, tuple)) else "an object"


def shown_values(values: Sequence[str], limit: int = 12) -> str:
    """A list for a person: all of a short one; else its count, its first ``limit`` values and a cut mark."""
    if len(values) <= limit:
        return ", ".join(values)
    return f"{len(values)} values, most frequent first: {', '.join(values[:limit])}, … ({len(values) - limit} more)"


@dataclass(frozen=True)
class FieldRule:
    name: str
    kind: str  # "numeric" | "categorical"
    min: float | None = None
    max: float | None = None
    values: frozenset[str] = field(default_factory=frozenset)
    listed: tuple[str, ...] = ()  # the spec's order of ``values``: most frequent first (as init writes them)

    def check(self, value: Any) -> tuple[Any, str | None]:
        """The value as the model wants it, or a reason it is not acceptable."""
        if value is None:
            return math.nan, None  # explicit null = missing: the pipeline imputes it
        if self.kind == "numeric":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return None, f"must be a number, got {json_kind(value)}"
            try:
                v = float(value)
            except OverflowError:  # an int of hundreds of digits
                return None, "must be a finite number (this integer is too large)"
            if not math.isfinite(v):
                return None, "must be a finite number"
            if self.min is not None and v < self.min:
                return None, f"{v:g} is below the allowed minimum {self.min:g}"
            if self.max is not None and v > self.max:
                return None, f"{v:g} is above the allowed maximum {self.max:g}"
            return v, None
        if not isinstance(value, str):
            return None, f"must be a string, got {json_kind(value)}"
        if self.values and value not in self.values:
            return None, f"unknown category {value!r}; allowed: {shown_values(self.listed or sorted(self.values))}"
        return value, None


@dataclass(frozen=True)
class InputContract:
    """What a record must carry. With calendar features, a record may send the time column instead of
    them (``time_column``: ``{"ts": "2026-03-02T14:30:00"}`` gives ``ts_hour`` 14, ``ts_day_of_week`` 0,
    ``ts_month`` 3), derived as training derived them."""

    fields: tuple[FieldRule, ...]
    max_records: int
    time_column: str | None = None
    calendar: tuple[tuple[str, str], ...] = ()  # (feature, part) derived from ``time_column``

    @classmethod
    def from_spec(
        cls, spec: DatasetSpec, max_records: int, signature_columns: list[str] | None = None
    ) -> InputContract:
        """The contract of a model trained on ``spec``.

        Raises:
            ValueError: the model's signature asks for columns the spec does not describe.
        """
        if signature_columns is not None:
            unknown = sorted(set(signature_columns) - set(spec.feature_names))
            if unknown:
                raise ValueError(f"model signature has columns the spec does not describe: {unknown}")
            names = signature_columns
        else:
            names = spec.feature_names
        rules = []
        for name in names:
            f = spec.feature(name)
            rules.append(FieldRule(name, f.type, f.min, f.max, frozenset(f.values or ()), tuple(f.values or ())))
        calendar = tuple((n, part) for n, part in spec.calendar_features.items() if n in names)
        return cls(tuple(rules), max_records, spec.time_column if calendar else None, calendar)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.fields]

    def decode(self, records: Any) -> dict[str, list[Any]]:
        """Check records and return them as columns.

        Raises:
            ContractError: with every problem found (up to 20).
        """
        if not isinstance(records, list):
            raise ContractError([Problem("records", "must be a list of objects")])
        if not records:
            raise ContractError([Problem("records", "must hold at least 1 record")])
        if len(records) > self.max_records:
            raise ContractError(
                [Problem("records", f"holds {len(records)} records; the maximum is {self.max_records}")]
            )
        columns: dict[str, list[Any]] = {r.name: [] for r in self.fields}
        problems: list[Problem] = []
        known = set(columns) | ({self.time_column} if self.time_column else set())
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                problems.append(Problem("records", f"must be an object, got {json_kind(rec)}", i))
                continue
            if self.time_column is not None and self.time_column in rec:
                derived, reason = self._calendar_of(rec[self.time_column])
                if reason:
                    problems.append(Problem(self.time_column, reason, i))
                rec = {**derived, **rec}  # a part the record sends itself wins
            for rule in self.fields:
                if rule.name not in rec:
                    problems.append(Problem(rule.name, self._required(rule.name), i))
                    continue
                value, reason = rule.check(rec[rule.name])
                if reason:
                    problems.append(Problem(rule.name, reason, i))
                else:
                    columns[rule.name].append(value)
            extra = [k for k in rec if k not in known]
            if extra:
                problems.append(Problem(str(extra[0]), "is not an input of this model", i))
            if len(problems) >= 20:
                break
        if problems:
            raise ContractError(problems)
        return columns

    def _calendar_of(self, value: Any) -> tuple[dict[str, Any], str | None]:
        """The calendar features of one time value (as training derives them), or why it is no time."""
        missing: dict[str, Any] = dict.fromkeys((n for n, _ in self.calendar), None)  # imputed, as in training
        if value is None:
            return missing, None
        if not isinstance(value, str):
            return missing, f"must be a date-time string, got {json_kind(value)}"
        times = parse_times(pd.Series([value], dtype=object))
        if times.isna().all():
            return missing, f"{value[:40]!r} is not a date-time"
        parts = calendar_parts(times, {part for _, part in self.calendar})
        return {name: float(parts[part][0]) for name, part in self.calendar}, None

    def _required(self, name: str) -> str:
        if self.time_column is not None and any(name == n for n, _ in self.calendar):
            return f"is required (or send {self.time_column!r}, the time it is derived from)"
        return "is required"

    def frame(self, columns: dict[str, list[Any]]) -> pd.DataFrame:
        """Columns (possibly of several requests, concatenated) as the model's input frame."""
        data: dict[str, Any] = {}
        for rule in self.fields:
            col = columns[rule.name]
            data[rule.name] = np.asarray(col, dtype=float) if rule.kind == "numeric" else pd.array(col, dtype="object")
        return pd.DataFrame(data)

    def json_schema(self) -> dict[str, Any]:
        """JSON Schema of one record (for /model and the OpenAPI document)."""
        props: dict[str, Any] = {}
        for r in self.fields:
            if r.kind == "numeric":
                p: dict[str, Any] = {"type": ["number", "null"]}
                if r.min is not None:
                    p["minimum"] = r.min
                if r.max is not None:
                    p["maximum"] = r.max
            else:
                p = (
                    {"type": ["string", "null"], "enum": [*sorted(r.values), None]}
                    if r.values
                    else {"type": ["string", "null"]}
                )
            props[r.name] = p
        required = self.names
        if self.time_column is not None:  # the calendar features may come from the time instead
            derived = {n for n, _ in self.calendar}
            required = [n for n in self.names if n not in derived]
            props[self.time_column] = {
                "type": ["string", "null"],
                "format": "date-time",
                "description": f"derives {', '.join(sorted(derived))} when those are not sent",
            }
        return {"type": "object", "properties": props, "required": required, "additionalProperties": False}

    def example(self) -> dict[str, Any]:
        """A valid record (middle of each range, first category)."""
        out: dict[str, Any] = {}
        for r in self.fields:
            if r.kind == "numeric":
                lo, hi = r.min if r.min is not None else 0.0, r.max if r.max is not None else 1.0
                out[r.name] = round((lo + hi) / 2, 3)
            else:
                out[r.name] = sorted(r.values)[0] if r.values else ""
        return out
