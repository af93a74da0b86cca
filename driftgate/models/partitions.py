"""What a Dask worker runs on one partition of a window: encode it, take its labels, score it.

These functions travel to the workers by reference, so a worker imports this module and what it
imports (pandas, numpy, the one predict): kept in the core, away from the training stage's package
(MLflow, Prefect, the search), a worker starts ~150 MB lighter and has that much more for rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from driftgate.dataset.spec import DatasetSpec
from driftgate.models.predict import predict


def encode_part(part: pd.DataFrame, pre: Any, features: list[str]) -> np.ndarray:
    """A partition's features through a fitted preprocessing step, as float32 (LightGBM bins them anyway)."""
    return np.asarray(pre.transform(part[features]), dtype=np.float32)


def label_part(part: pd.DataFrame, target: str, task: str) -> np.ndarray:
    """A partition's labels: text for classifiers, float64 for regressors."""
    y = part[target]
    return y.astype(str).to_numpy(dtype=object) if task == "classification" else y.to_numpy(dtype=np.float64)


def score_part(part: pd.DataFrame, spec: DatasetSpec, models: Mapping[str, Any], keep: list[str]) -> dict[str, Any]:
    """A partition's labels, the ``keep`` columns (categories: small) and each model's predictions."""
    X = part[spec.feature_names]
    kept = part[[spec.target, *keep]].reset_index(drop=True)
    for col in keep:  # the spec's levels: every partition's categories agree, so they concatenate as categories
        levels = spec.feature(col).values
        kept[col] = pd.Categorical(kept[col], categories=levels) if levels else kept[col].astype("category")
    return {"rows": kept, **{name: predict(m, spec.task, X) for name, m in models.items()}}
