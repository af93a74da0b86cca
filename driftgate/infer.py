"""Infer a dataset spec from a table: task, metric, feature types, ranges, categories.

Pure functions over a frame already read with the file's read options; ``driftgate init``
reads the file, calls :func:`infer_spec`, prints :meth:`Inference.table` and writes
:func:`spec_yaml`. Every decision carries the reason a person needs to check it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import yaml

from driftgate.errors import SpecError
from driftgate.spec import METRIC_DIRECTIONS, DatasetSpec, ReadOptions, Task, check_dataset_name

MARGIN = 0.1  # numeric ranges: observed span widened by this share on each side
MAX_LEVELS = 100  # categorical columns with more distinct values are left out unless asked
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
    stem = re.sub(r"\.(csv|parquet|txt|tsv)(\.gz)?$", "", path.rstrip("/").rsplit("/", 1)[-1], flags=re.I)
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


def _feature(col: str, s: pd.Series, max_levels: int, asked: bool) -> tuple[dict[str, Any] | None, Decision]:
    present = s.dropna()
    n_missing = int(s.isna().sum())
    missing = f"; {n_missing} missing ({n_missing / len(s):.1%})" if n_missing else ""
    if present.empty:
        return None, Decision(col, "left out", "-", "", "no values")
    if present.nunique() == 1:
        return None, Decision(col, "left out", "-", f"always {present.iloc[0]!r}", "constant")
    if not asked and _id_like(s):
        return None, Decision(col, "left out", "-", f"{len(present)} distinct", "unique per row, like an id (--id)")
    if _is_numeric(s):
        lo, hi, detail = _range(present)
        return {"name": col, "type": "numeric", "min": lo, "max": hi}, Decision(
            col, "feature", "numeric", detail, f"numbers; range widened by {MARGIN:.0%} of the span{missing}"
        )
    values = _values(s)
    if len(values) > max_levels and not asked:
        why = f"{len(values)} levels > {max_levels} (--max-levels to keep)"
        return None, Decision(col, "left out", "categorical", f"{len(values)} distinct", why)
    shown = ", ".join(values[:6]) + (f", ... ({len(values)})" if len(values) > 6 else "")
    return {"name": col, "type": "categorical", "values": values}, Decision(
        col, "feature", "categorical", shown, f"text with {len(values)} levels{missing}"
    )


def infer_spec(
    frame: pd.DataFrame,
    target: str,
    *,
    name: str,
    source: str,
    read: ReadOptions | None = None,
    task: str = "auto",
    metric: str | None = None,
    id_columns: Sequence[str] = (),
    exclude: Sequence[str] = (),
    keep: Sequence[str] = (),
    max_levels: int = MAX_LEVELS,
) -> Inference:
    """The spec a table implies, with a decision per column.

    Args:
        frame: the table, read with ``read``.
        target: the column to predict.
        name: the dataset's name (file names derive from it).
        source: where the data API reads the rows (the file's path or URL).
        read: the read options the file needs.
        task: ``auto``, ``classification`` or ``regression``.
        metric: the primary metric; default by task.
        id_columns: key columns carried through, never features.
        exclude: columns left out.
        keep: columns kept as features even when they look like ids or have many levels.
        max_levels: categorical columns with more distinct values are left out.

    Raises:
        SpecError: the table cannot make a dataset (unknown or constant target, ...).
    """
    check_dataset_name(name)
    if frame.empty or len(frame.columns) < 2:
        raise SpecError(f"{source} holds no rows or a single column: nothing to learn from")
    named = {"target": [target], "--id": list(id_columns), "--exclude": list(exclude), "--keep": list(keep)}
    for option, cols in named.items():
        unknown = [c for c in cols if c not in frame.columns]
        if unknown:
            shown = ", ".join(map(str, frame.columns[:12])) + (" ..." if len(frame.columns) > 12 else "")
            raise SpecError(f"{option} column {unknown[0]!r} is not in {source} (columns: {shown})")
    if target in id_columns or target in exclude:
        raise SpecError(f"target {target!r} cannot also be an id or excluded column")
    chosen = choose_task(frame[target], task)
    y = _check_target(frame, target, chosen)
    decisions: list[Decision] = []
    spec: dict[str, Any] = {"name": name, "task": chosen, "target": target, "model_name": f"{name}-model"}
    if chosen == "classification":
        counts = y.astype(str).value_counts()
        metric_name, why = choose_metric(chosen, len(counts), metric)
        detail = ", ".join(f"{k} ({v})" for k, v in counts.head(6).items())
        if len(counts) == 2:
            spec["positive_class"] = str(sorted(counts.index, key=lambda c: (counts[c], c))[0])
            why += f"; positive class {spec['positive_class']!r} (the minority)"
    else:
        metric_name, why = choose_metric(chosen, 0, metric)
        lo, hi = float(y.min()), float(y.max())
        span = hi - lo
        spec["target_min"] = 0 if lo >= 0 else _num(lo - span)
        spec["target_max"] = _num(hi + span)
        detail = f"observed {_num(lo)}..{_num(hi)}, valid {spec['target_min']}..{spec['target_max']}"
    spec["metric"] = {"name": metric_name, "direction": METRIC_DIRECTIONS[metric_name]}
    unlabeled = int(frame[target].isna().sum())
    why += f"; {unlabeled} rows without a target" if unlabeled else ""
    decisions.append(Decision(target, "target", chosen, detail, f"{metric_name}: {why}"))
    features = []
    for col in frame.columns:
        if col == target:
            continue
        if col in id_columns:
            decisions.append(Decision(str(col), "id", "-", "", "asked (--id): carried through, never a feature"))
        elif col in exclude:
            decisions.append(Decision(str(col), "left out", "-", "", "asked (--exclude)"))
        else:
            feat, decision = _feature(str(col), frame[col], max_levels, col in keep)
            decisions.append(decision)
            if feat is not None:
                features.append(feat)
    if not features:
        raise SpecError(f"no usable feature columns in {source}; see --exclude/--id/--keep")
    spec.update(source=source, features=features, scenario=_scenario(len(y)))
    if id_columns:
        spec["id_columns"] = list(id_columns)
    if read is not None:
        spec["read"] = read.model_dump()
    return Inference(DatasetSpec.model_validate(spec), decisions)


def _scenario(rows: int) -> dict[str, int]:
    """Replay the file as 2-5 disjoint batches in random order, no injected drift."""
    batches = max(2, min(5, rows // 2000))
    return {"batch_size": min(50_000, max(1, rows // batches)), "batches": batches, "base_batches": batches, "seed": 7}


def spec_yaml(spec: DatasetSpec, comment: str = "") -> str:
    """The spec as YAML in the order a person reads it, one line per feature."""
    data = spec.model_dump(exclude_none=True, exclude={"batches"})
    order = ["name", "task", "target", "model_name", "source", "metric", "positive_class", "target_min",
             "target_max", "id_columns", "read", "scenario"]  # fmt: skip
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
