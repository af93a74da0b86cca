"""The schema a training run's MLflow dataset input records: MLflow's own, inferred without its per-value loop."""

from __future__ import annotations

import numpy as np
import pandas as pd


def test_the_dataset_schema_is_the_one_mlflow_infers() -> None:
    from mlflow.types.utils import _infer_schema

    from driftgate.registry.tracking import dataset_schema

    rows = 200
    frame = pd.DataFrame(
        {
            "x": np.linspace(0, 1, rows),
            "x_missing": np.r_[np.nan, np.ones(rows - 1)],
            "n": np.arange(rows),
            "flag": np.arange(rows) % 2 == 0,
            "colour": pd.Series(["red", "blue"] * (rows // 2), dtype=object),
            "colour_missing": pd.Series([None, *["a"] * (rows - 1)], dtype=object),
            "text": pd.Series(["s", "m"] * (rows // 2), dtype="string"),
            "cat": pd.Categorical(["u", "v"] * (rows // 2)),
            "when": pd.Series(pd.date_range("2024-01-01", periods=rows)),
            "when_missing": pd.Series([pd.NaT, *pd.date_range("2024-01-01", periods=rows - 1)]),
        }
    )
    ours = dataset_schema(frame)
    assert ours == _infer_schema(frame)
    assert [c.required for c in ours.inputs] == [not frame[c].isna().any() for c in frame.columns]
