"""Write a starting expectation suite from a dataset spec and a reference batch."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from driftgate.dataset.spec import DatasetSpec
from driftgate.errors import SuiteError

GENERATED_KEY = "driftgate_generated_sha256"
# the dtypes a column may have in a batch, as Great Expectations names them
NUMERIC_TYPES = ["float64", "float32", "int64", "int32", "Float64", "Int64"]
TEXT_TYPES = ["str", "object", "string", "StringDtype", "category"]


def _exp(kind: str, severity: str = "critical", **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {}, "severity": severity}


# above this many levels a categorical column's value set allows 2 % of unseen values
MANY_LEVELS = 30


def suite_from_reference(spec: DatasetSpec, reference: pd.DataFrame, margin: float = 0.1) -> dict[str, Any]:
    """A GX suite (as its JSON dict): columns, types, nulls, ranges, value sets, row counts.

    Ranges are the spec's when it gives them, else the reference's widened by ``margin`` of
    the span. A warning-level mean check on each numeric feature flags a shift without
    quarantining the batch.
    """
    rows = len(reference)
    exps = [  # id columns are part of every batch (they pass through to predictions) but never checked as data
        _exp("expect_table_columns_to_match_set", column_set=[*spec.columns, *spec.key_columns], exact_match=True),
        _exp("expect_table_row_count_to_be_between", min_value=max(1, rows // 10), max_value=rows * 10),
        _exp("expect_compound_columns_to_be_unique", column_list=spec.columns, mostly=0.99),
    ]
    for col in spec.columns:
        s = reference[col]
        null_share = float(s.isna().mean())
        mostly = 1.0 if null_share == 0 else max(0.0, round(1 - 2 * null_share - 0.01, 3))
        exps.append(_exp("expect_column_values_to_not_be_null", column=col, mostly=mostly))
        numeric = col in spec.numeric or (col == spec.target and spec.task == "regression")
        if numeric:
            exps.append(_exp("expect_column_values_to_be_in_type_list", column=col, type_list=NUMERIC_TYPES))
            lo, hi = float(s.min()), float(s.max())
            span = hi - lo or abs(hi) or 1.0
            if col in spec.feature_names:
                f = spec.feature(col)
                lo = f.min if f.min is not None else round(lo - margin * span, 6)
                hi = f.max if f.max is not None else round(hi + margin * span, 6)
            else:  # the target: labels legitimately move (drift judges that), so only absurd values fail
                lo = spec.target_min if spec.target_min is not None else round(lo - span, 6)
                hi = spec.target_max if spec.target_max is not None else round(hi + span, 6)
            exps.append(_exp("expect_column_values_to_be_between", column=col, min_value=lo, max_value=hi))
            mean, std = float(s.mean()), float(s.std() or 1.0)
            exps.append(
                _exp(
                    "expect_column_mean_to_be_between",
                    "warning",
                    column=col,
                    min_value=round(mean - 0.5 * std, 6),
                    max_value=round(mean + 0.5 * std, 6),
                )
            )
        else:
            exps.append(_exp("expect_column_values_to_be_in_type_list", column=col, type_list=TEXT_TYPES))
            values = spec.feature(col).values if col in spec.feature_names else None
            values = values or sorted(str(v) for v in s.dropna().unique())
            # long-tailed codes (diagnoses, zip codes): a new rare code must not quarantine a whole batch
            in_set = _exp("expect_column_values_to_be_in_set", column=col, value_set=list(values))
            if len(values) > MANY_LEVELS:
                in_set["kwargs"]["mostly"] = 0.98
            exps.append(in_set)
    meta: dict[str, str] = {"generated_by": "driftgate expectations init"}
    suite: dict[str, Any] = {"name": spec.name, "expectations": exps, "meta": meta}
    meta[GENERATED_KEY] = _digest(suite)
    return suite


def _digest(suite: dict[str, Any]) -> str:
    body = {k: v for k, v in suite.items() if k != "meta"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def write_suite(path: Path, suite: dict[str, Any], force: bool = False) -> None:
    """Write a generated suite; refuse to replace one a person has edited unless forced.

    Raises:
        SuiteError: ``path`` holds an edited suite and ``force`` is false.
    """
    if path.exists() and not force:
        try:
            current = json.loads(path.read_text())
            edited = current.get("meta", {}).get(GENERATED_KEY) != _digest(current)
        except json.JSONDecodeError:
            edited = True
        if edited:
            raise SuiteError(f"{path} has been edited since it was generated; use --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(suite, indent=2) + "\n")
