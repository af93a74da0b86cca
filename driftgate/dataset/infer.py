"""Infer a dataset spec from a table: task, metric, feature types, ranges, categories.

Pure functions over a frame already read with the file's read options; ``driftgate init``
reads the file, calls :func:`infer_spec`, prints :meth:`Inference.table` and writes
:func:`spec_yaml`. Every decision carries the reason a person needs to check it.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import yaml

from driftgate.dataset.encoding import encoding_of
from driftgate.dataset.frames import parse_times
from driftgate.dataset.spec import (
    CALENDAR_RANGES,
    METRIC_DIRECTIONS,
    DatasetSpec,
    ReadOptions,
    Task,
    calendar_feature_name,
    check_dataset_name,
)
from driftgate.errors import SpecError

log = logging.getLogger(__name__)

MARGIN = 0.1  # numeric ranges: observed span widened by this share on each side
MIN_ROWS = 100  # labelled rows a file needs: batch 1 (half of a small file) trains on 70 % of its rows
MAX_CLASSES = 20  # a numeric target with at most this many integer values is a class label
TASK_METRICS: dict[Task, tuple[str, ...]] = {
    "classification": ("roc_auc", "accuracy", "f1", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}


@dataclass(frozen=True)
class Decision:
    """What ``init`` did with one column, and why."""

    column: str
    role: str  # target | feature | id | left out
    kind: str  # numeric | categorical | -
    detail: str
    why: str


@dataclass
class Inference:
    spec: DatasetSpec
    decisions: list[Decision] = field(default_factory=list)

    def table(self) -> str:
        """One line per column: role, type, range or values, reason."""
        header = ("column", "role", "type", "range / values", "why")
        rows = [header] + [(d.column, d.role, d.kind, d.detail, d.why) for d in self.decisions]
        widths = [min(44, max(len(r[i]) for r in rows)) for i in range(4)]
        lines = []
        for r in rows:
            cells = [c if len(c) <= w else c[: w - 1] + "…" for c, w in zip(r[:4], widths, strict=True)]
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + "  " + r[4])
        return "\n".join(line.rstrip() for line in lines)


def dataset_name_from(path: str) -> str:
    """A valid dataset name from a file name: ``data/Adult Income.csv`` -> ``Adult-Income``."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    stem = re.sub(r"\.(csv|parquet|txt|tsv)(\.(gz|bz2|zip|xz|zst))?$", "", last, flags=re.I)
    return re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-") or "dataset"


def _num(x: float) -> float | int:
    """A bound written plainly: integers as integers, others to 6 significant digits."""
    return int(x) if float(x).is_integer() else float(f"{x:.6g}")


def _range(s: pd.Series) -> tuple[float | int, float | int, str]:
    lo, hi = float(s.min()), float(s.max())
    span = hi - lo or abs(hi) or 1.0
    low, high = lo - MARGIN * span, hi + MARGIN * span
    if lo >= 0 > low:
        low = 0.0  # a quantity never seen negative stays non-negative
    if (s.dropna() % 1 == 0).all():
        low, high = math.floor(low), math.ceil(high)
    return _num(low), _num(high), f"{lo:.4g}..{hi:.4g} (allowed {low:.4g}..{high:.4g})"


def _values(s: pd.Series) -> list[str]:
    return sorted({str(v) for v in s.dropna()})


def by_frequency(s: pd.Series) -> list[str]:
    """A categorical column's values, most frequent first (ties in natural order), written plainly.

    The spec keeps this order, so a refusal of an unknown category can show the values most rows hold.
    """
    counts = s.dropna().value_counts()
    order = sorted(counts.index, key=lambda v: (-int(counts[v]), v if _is_numeric(s) else str(v)))
    return [plain(v) for v in order]


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _id_like(s: pd.Series) -> bool:
    """Unique per row and not a measurement: text, or whole numbers."""
    present = s.dropna()
    if len(present) < 20 or present.nunique() != len(present):
        return False
    return not _is_numeric(s) or bool((present % 1 == 0).all())


def choose_task(y: pd.Series, asked: str) -> Task:
    """``asked`` unless ``auto``; else regression for numbers with many values, classification otherwise."""
    if asked in ("classification", "regression"):
        if asked == "regression" and not _is_numeric(y):
            raise SpecError(f"target {y.name!r} holds text ({_values(y)[:3]}...): it cannot be a regression target")
        return asked  # type: ignore[return-value]
    if asked != "auto":
        raise SpecError(f"task must be auto, classification or regression, not {asked!r}")
    present = y.dropna()
    if _is_numeric(y) and (present.nunique() > MAX_CLASSES or not (present % 1 == 0).all()):
        return "regression"
    return "classification"


def choose_metric(task: Task, n_classes: int, asked: str | None) -> tuple[str, str]:
    """The primary metric and why: binary roc_auc, multi-class accuracy, regression rmse."""
    if asked is not None:
        if asked not in TASK_METRICS[task]:
            raise SpecError(f"metric {asked!r} does not judge {task}; choose one of {', '.join(TASK_METRICS[task])}")
        return asked, "asked for"
    if task == "regression":
        return "rmse", "regression: root mean squared error"
    if n_classes == 2:
        return "roc_auc", "binary: ranking quality, independent of a threshold"
    return "accuracy", f"{n_classes} classes: share of rows classified right"


def _check_target(frame: pd.DataFrame, target: str, task: Task) -> pd.Series:
    y = frame[target].dropna()
    if y.empty:
        raise SpecError(f"target {target!r} has no values")
    if y.nunique() < 2:
        raise SpecError(f"target {target!r} is constant ({y.iloc[0]!r}): there is nothing to predict")
    if task == "classification":
        counts = y.astype(str).value_counts()
        if (counts < 2).all():
            raise SpecError(f"target {target!r} has one row per class ({len(counts)} classes): not a class label")
        single = sorted(counts[counts < 2].index)
        if single:
            raise SpecError(f"target {target!r} has classes with a single row: {single[:5]}; fix or drop those rows")
    return y


def plain(value: Any) -> str:
    """A value as a person writes it: ``0``, ``1.5``, ``red`` (never ``np.int64(0)`` or ``'red'``)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else str(float(value))
    return str(value)


KEY_NAME = re.compile(r"(^|[_\s-])(id|nbr|num|no|number|key|patient|customer|client|user|account|member)s?$", re.I)
CODE_NAME = re.compile(r"(^|[_\s-])(id|code|cd|type|class|category|status)$", re.I)
MAX_CODE_LEVELS = 30  # integer columns with at most this many values may be category codes
MIN_KEY_SHARE = 0.05  # a group key: at least this share of rows hold a distinct value ...
MIN_KEY_VALUES = 20  # ... and at least this many distinct values


def _whole(present: pd.Series) -> bool:
    return _is_numeric(present) and bool((present % 1 == 0).all())


def looks_like_group_key(col: str, s: pd.Series) -> bool:
    """Whole numbers (or text) named like a key, with many distinct values and some repeated: a patient, a customer."""
    present = s.dropna()
    distinct = present.nunique()
    if not len(present) or distinct == len(present) or distinct < MIN_KEY_VALUES:
        return False
    if distinct < MIN_KEY_SHARE * len(present) or not (_whole(present) or not _is_numeric(s)):
        return False
    return bool(KEY_NAME.search(col))


def looks_like_codes(col: str, present: pd.Series) -> str | None:
    """Why whole numbers with few values are category codes (their name, or values with gaps), or None."""
    if not _whole(present):
        return None
    values = np.sort(present.unique())
    if len(values) > MAX_CODE_LEVELS:
        return None
    if CODE_NAME.search(col):
        return f"whole numbers named like a code ({len(values)} values)"
    span = float(values[-1] - values[0]) + 1
    if len(values) >= 3 and span > 2 * len(values):
        lo, hi = plain(values[0]), plain(values[-1])
        return f"{len(values)} whole numbers with gaps (from {lo} to {hi}): codes, not amounts"
    return None


def _categorical(col: str, s: pd.Series, why: str, missing: str) -> tuple[dict[str, Any], Decision]:
    values = by_frequency(s)
    shown = ", ".join(values[:6]) + (f", ... ({len(values)})" if len(values) > 6 else "")
    encoded = f"; encoded {encoding_of(len(values))}"
    return {"name": col, "type": "categorical", "values": values}, Decision(
        col, "feature", "categorical", shown, f"{why}{encoded}{missing}"
    )


def _feature(col: str, s: pd.Series, asked: str | None, o: InitOptions) -> tuple[dict[str, Any] | None, Decision]:
    """One column's decision; ``asked`` is what a person said (keep, categorical, numeric) or None."""
    present = s.dropna()
    n_missing = int(s.isna().sum())
    missing = f"; {n_missing} missing ({n_missing / len(s):.1%})" if n_missing else ""
    if present.empty:
        return None, Decision(col, "left out", "-", "", "no values")
    if present.nunique() == 1:
        return None, Decision(col, "left out", "-", f"always {plain(present.iloc[0])}", "constant")
    if asked == "categorical":
        return _categorical(col, s, f"asked ({o.said('categorical')})", missing)
    if asked == "numeric":
        if not _is_numeric(s):
            raise SpecError(f"{o.said('numeric')} column {col!r} holds text ({', '.join(_values(s)[:3])}, ...)")
        lo, hi, detail = _range(present)
        return {"name": col, "type": "numeric", "min": lo, "max": hi}, Decision(
            col, "feature", "numeric", detail, f"asked ({o.said('numeric')}){missing}"
        )
    if asked is None and _id_like(s):
        return None, Decision(
            col, "id", "-", f"{len(present)} distinct", "unique per row: an id, carried through to predictions"
        )
    if _is_numeric(s):
        codes = looks_like_codes(col, present) if asked is None else None
        if codes:
            return _categorical(col, s, f"{codes} ({o.said('numeric')} to override)", missing)
        lo, hi, detail = _range(present)
        return {"name": col, "type": "numeric", "min": lo, "max": hi}, Decision(
            col, "feature", "numeric", detail, f"numbers; range widened by {MARGIN:.0%} of the span{missing}"
        )
    return _categorical(col, s, f"text with {present.nunique()} levels", missing)


TIME_PARSED_SHARE = 0.95
"""Share of a text column's values that must parse as datetimes for ``init`` to propose it as the time column."""


def looks_like_time(s: pd.Series) -> bool:
    """A column of datetimes, or of text that (almost all) parses as datetimes; numbers never do."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return True
    present = s.dropna()
    if present.empty or pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return False
    text = present.astype(str)
    if text.str.fullmatch(r"[+-]?\d+(\.\d*)?").mean() > 0.5:  # codes and numbers written as text
        return False
    sample = text.head(2000)
    parsed = pd.to_datetime(sample, errors="coerce", utc=True, format="mixed")
    return bool(parsed.notna().mean() >= TIME_PARSED_SHARE)


def _time_order(frame: pd.DataFrame, taken: set[Any], o: InitOptions) -> tuple[dict[str, Any] | None, Decision | None]:
    """The spec's ``time`` section and the time column's decision (None: no such column), from the options."""
    if o.time_column is not None:
        return {"column": o.time_column}, Decision(
            o.time_column,
            "time",
            "-",
            "",
            f"asked ({o.said('time_column')}): rows ordered by it; the latest rows of each batch test; never a feature",
        )
    if o.ordered:
        return {"ordered": True}, None
    if o.no_time:
        return None, None
    found = [c for c in frame.columns if c not in taken and looks_like_time(frame[c])]
    if not found:
        return None, None
    col = str(found[0])
    present = frame[col].dropna()
    return {"column": col}, Decision(
        col,
        "time",
        "-",
        f"{present.nunique()} times",
        "parses as datetimes: rows ordered by it, each batch tested on its latest rows, never a feature "
        f"({o.said('no_time')} to decline, {o.said('time_column')} to choose another)",
    )


CALENDAR_WORDS = {"hour": "hour", "day_of_week": "day of week (Monday 0)", "month": "month"}
CALENDAR_SPAN_DAYS = {"day_of_week": 14.0, "month": 730.0}
"""How many days a file must span for ``init`` to learn a part: each value seen at least twice, in two
different weeks or years. A month seen once is a time index in disguise: a model learns the month's
passing state from it, which never recurs (it raised held-out minus next-batch accuracy by 0.013 on
the seeded time-ordered table, ``bench/calendar_features.py``)."""


def _calendar(
    column: str, times: pd.Series, taken: set[str], o: InitOptions
) -> list[tuple[str, dict[str, Any] | None, str]]:
    """Each calendar part of a timestamp column: its feature (None: left out) and why."""
    present = times.dropna()
    days = (present.max() - present.min()).total_seconds() / 86400 if len(present) else 0.0
    out: list[tuple[str, dict[str, Any] | None, str]] = []
    for part, (lo, hi) in CALENDAR_RANGES.items():
        name = calendar_feature_name(column, part)
        need = CALENDAR_SPAN_DAYS.get(part, 0.0)
        if name in taken:
            out.append((part, None, f"the table already has a column {name!r}"))
        elif part == "hour" and bool((present.dt.floor("D") == present).all()):
            out.append((part, None, f"every time of {column} is a midnight: no hour to learn"))
        elif days < need:
            why = f"{column} spans {days:.0f} days; its {CALENDAR_WORDS[part]} needs {need:.0f} (each value seen twice)"
            out.append((part, None, why))
        else:
            words = f"the {CALENDAR_WORDS[part]} of {column} ({o.said('no_calendar')} to leave the parts out)"
            out.append((part, {"name": name, "type": "numeric", "min": lo, "max": hi}, words))
    return out


@dataclass(frozen=True)
class InitOptions:
    """What a person said about their file (``driftgate init``'s options).

    ``option_names`` says how the person named each option, for the decision table and the errors:
    the CLI passes its flags (``{"id_columns": "--id", ...}``); left out, an option is named by its
    field here. The core never spells a command's flags itself.
    """

    target: str
    name: str | None = None
    task: str = "auto"
    metric: str | None = None
    id_columns: Sequence[str] = ()
    exclude: Sequence[str] = ()
    keep: Sequence[str] = ()
    group: str | None = None
    categorical: Sequence[str] = ()
    numeric: Sequence[str] = ()
    time_column: str | None = None
    ordered: bool = False
    no_time: bool = False
    no_calendar: bool = False
    force: bool = False
    option_names: Mapping[str, str] = field(default_factory=dict)

    def said(self, option: str) -> str:
        """How the person named ``option`` (a field of this class)."""
        return self.option_names.get(option, option)


def _check_options(frame: pd.DataFrame, o: InitOptions, source: str) -> None:
    """Every column an option names exists, and no column is given two roles that exclude each other."""
    if frame.empty or len(frame.columns) < 2:
        raise SpecError(f"{source} holds no rows or a single column: nothing to learn from")
    named = {
        "target": [o.target],
        o.said("id_columns"): list(o.id_columns),
        o.said("exclude"): list(o.exclude),
        o.said("keep"): list(o.keep),
        o.said("group"): [o.group] if o.group else [],
        o.said("categorical"): list(o.categorical),
        o.said("numeric"): list(o.numeric),
        o.said("time_column"): [o.time_column] if o.time_column else [],
    }
    for option, cols in named.items():
        unknown = [c for c in cols if c not in frame.columns]
        if unknown:
            more = f" ... ({len(frame.columns)} in all)" if len(frame.columns) > 12 else ""
            shown = ", ".join(map(str, frame.columns[:12])) + more
            raise SpecError(f"{option} column {unknown[0]!r} is not in {source} (columns: {shown})")
    if o.target in {*o.id_columns, *o.exclude, o.group, o.time_column}:
        raise SpecError(f"target {o.target!r} cannot also be an id, group, time or excluded column")
    roles = {*o.id_columns, *o.exclude, o.group, *o.keep, *o.categorical, *o.numeric}
    if o.time_column is not None and o.time_column in roles:
        raise SpecError(
            f"{o.said('time_column')} column {o.time_column!r} is never a feature, an id, the group key or excluded"
        )
    both = sorted(set(o.categorical) & set(o.numeric))
    if both:
        raise SpecError(f"column {both[0]!r} is both {o.said('categorical')} and {o.said('numeric')}")


def _target(frame: pd.DataFrame, o: InitOptions, source: str) -> tuple[dict[str, Any], Decision, int]:
    """The spec's task, target and metric entries, the target's decision, and the labelled row count."""
    target = o.target
    chosen = choose_task(frame[target], o.task)
    y = _check_target(frame, target, chosen)
    if len(y) < MIN_ROWS:
        raise SpecError(
            f"{source} has {len(y)} rows with a target; driftgate needs at least {MIN_ROWS} to train and test "
            "(the first batch is half a small file, and 70 % of it trains)"
        )
    spec: dict[str, Any] = {"task": chosen, "target": target}
    if chosen == "classification":
        counts = y.astype(str).value_counts()
        metric_name, why = choose_metric(chosen, len(counts), o.metric)
        detail = ", ".join(f"{k} ({v})" for k, v in counts.head(6).items())
        if len(counts) == 2:
            spec["positive_class"] = str(sorted(counts.index, key=lambda c: (counts[c], c))[0])
            why += f"; positive class {spec['positive_class']!r} (the minority)"
    else:
        metric_name, why = choose_metric(chosen, 0, o.metric)
        lo, hi = float(y.min()), float(y.max())
        span = hi - lo
        spec["target_min"] = 0 if lo >= 0 else _num(lo - span)
        spec["target_max"] = _num(hi + span)
        detail = f"observed {_num(lo)}..{_num(hi)}, valid {spec['target_min']}..{spec['target_max']}"
    spec["metric"] = {"name": metric_name, "direction": METRIC_DIRECTIONS[metric_name]}
    unlabeled = int(frame[target].isna().sum())
    why += f"; {unlabeled} rows without a target" if unlabeled else ""
    return spec, Decision(target, "target", chosen, detail, f"{metric_name}: {why}"), len(y)


def _group(frame: pd.DataFrame, o: InitOptions, taken: set[Any]) -> tuple[str | None, str]:
    """The group key (asked, or the column that looks like one) and why."""
    if o.group is not None:
        return o.group, f"asked ({o.said('group')}): rows of one value stay on one side of every split"
    found = [c for c in frame.columns if c not in taken and looks_like_group_key(str(c), frame[c])]
    why = (
        "looks like a key (named so; many values, some repeated): rows of one value stay on one side "
        f"of every split ({o.said('group')} to choose another)"
    )
    return (str(max(found, key=lambda c: frame[c].nunique())) if found else None), why


@dataclass
class _Columns:
    """The columns' decisions as they are made: the features, the ids, the table's rows."""

    features: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)


def _columns(
    frame: pd.DataFrame, o: InitOptions, *, time_decision: Decision | None, group: str | None, group_why: str
) -> _Columns:
    """Each column but the target: an asked role, the time column, the group key, or a feature's type."""
    out = _Columns(ids=[str(c) for c in o.id_columns])
    asked_by = {**dict.fromkeys(o.keep, "keep"), **dict.fromkeys(o.categorical, "categorical")}
    asked_by.update(dict.fromkeys(o.numeric, "numeric"))
    for col in frame.columns:
        if col == o.target:
            continue
        if col in o.id_columns:
            why = f"asked ({o.said('id_columns')}): carried through, never a feature"
            out.decisions.append(Decision(str(col), "id", "-", "", why))
        elif col in o.exclude:
            out.decisions.append(Decision(str(col), "left out", "-", "", f"asked ({o.said('exclude')})"))
        elif time_decision is not None and col == time_decision.column:
            out.decisions.append(time_decision)
        elif col == group:
            present = frame[col].dropna()
            detail = f"{present.nunique()} values in {len(present)} rows"
            out.decisions.append(Decision(str(col), "group key", "-", detail, group_why))
        else:
            feat, decision = _feature(str(col), frame[col], asked_by.get(col), o)
            out.decisions.append(decision)
            if feat is not None:
                out.features.append(feat)
            elif decision.role == "id":
                out.ids.append(str(col))
    return out


def _calendar_columns(frame: pd.DataFrame, column: str, o: InitOptions, out: _Columns) -> list[str]:
    """The calendar parts learned from the time column (features and decisions added to ``out``)."""
    learned = []
    for part, feature, why in _calendar(column, parse_times(frame[column]), {str(c) for c in frame.columns}, o):
        name = calendar_feature_name(column, part)
        if feature is None:
            out.decisions.append(Decision(name, "left out", "-", "", why))
            continue
        learned.append(part)
        out.features.append(feature)
        lo, hi = CALENDAR_RANGES[part]
        out.decisions.append(Decision(name, "feature", "numeric", f"{lo:g}..{hi:g}", why))
    return learned


def infer_spec(
    frame: pd.DataFrame, options: InitOptions, *, name: str, source: str, read: ReadOptions | None = None
) -> Inference:
    """The spec a table implies, with a decision per column.

    Args:
        frame: the table, read with ``read``.
        options: what the person said (the target, roles of columns, the time order, the task and metric).
        name: the dataset's name (file names derive from it).
        source: where the data API reads the rows (the file's path or URL).
        read: the read options the file needs.

    Raises:
        SpecError: the table cannot make a dataset (unknown or constant target, too few rows, ...).
    """
    o = options
    check_dataset_name(name)
    _check_options(frame, o, source)
    target_spec, target_decision, labelled = _target(frame, o, source)
    spec: dict[str, Any] = {"name": name, **target_spec, "model_name": f"{name}-model"}
    taken = {o.target, *o.id_columns, *o.exclude, *o.keep, *o.categorical, *o.numeric}
    time, time_decision = _time_order(frame, {*taken, o.group}, o)
    if time_decision is not None:
        taken.add(time_decision.column)
    group, group_why = _group(frame, o, taken)
    out = _columns(frame, o, time_decision=time_decision, group=group, group_why=group_why)
    out.decisions.insert(0, target_decision)
    calendar = time is not None and time_decision is not None and not o.no_calendar
    if calendar and time_decision is not None and looks_like_time(frame[time_decision.column]):
        time["calendar"] = _calendar_columns(frame, time_decision.column, o, out)  # type: ignore[index]
    if not out.features:
        raise SpecError(
            f"no usable feature columns in {source}; see {o.said('exclude')}/{o.said('id_columns')}/{o.said('keep')}"
        )
    spec.update(source=source, features=out.features, scenario=_scenario(labelled))
    if out.ids:
        spec["id_columns"] = out.ids
    if group is not None:
        spec["group_key"] = str(group)
    if time is not None:
        spec["time"] = time
    if read is not None:
        spec["read"] = read.model_dump()
    return Inference(DatasetSpec.model_validate(spec), out.decisions)


def _scenario(rows: int) -> dict[str, int]:
    """Replay the file as 2-5 disjoint batches in random order, no injected drift."""
    batches = max(2, min(5, rows // 2000))
    return {"batch_size": min(50_000, max(1, rows // batches)), "batches": batches, "base_batches": batches, "seed": 7}


def spec_yaml(spec: DatasetSpec, comment: str = "") -> str:
    """The spec as YAML in the order a person reads it, one line per feature."""
    data = spec.model_dump(exclude_none=True, exclude={"batches"})
    order = [
        "name",
        "task",
        "target",
        "model_name",
        "source",
        "metric",
        "positive_class",
        "target_min",
        "target_max",
        "id_columns",
        "group_key",
        "time",
        "read",
        "scenario",
    ]
    head = {k: data[k] for k in order if k in data and data[k] not in ([], None)}
    head["metric"] = {"name": spec.metric.name, "direction": spec.metric.direction}
    head["scenario"] = {k: data["scenario"][k] for k in ("batch_size", "batches", "base_batches", "seed")}
    out = [f"# {line}" for line in comment.splitlines()]
    out.append(yaml.safe_dump(head, sort_keys=False, width=1000, default_flow_style=None).rstrip())
    out.append("features:")
    for f in data["features"]:
        flow = yaml.safe_dump(f, default_flow_style=True, width=100_000, sort_keys=False).strip()
        out.append(f"  - {flow}")
    return "\n".join(out) + "\n"
