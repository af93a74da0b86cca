"""predict-batch checks every row with the service's contract: valid rows scored, the others rejected with a reason."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from driftgate.context import Context, build_context
from driftgate.dataset.frames import normalize
from driftgate.registry.client import set_champion
from driftgate.registry.tracking import configure_mlflow
from driftgate.settings import get_settings
from tests.conftest import ROOT
from tests.models import register_version, training_rows

DATASET = "synthetic-classification"


@pytest.fixture
def champion(
    prefect_harness: None, driftgate_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Context, Any]:
    """A real champion of the synthetic classifier; the spec names ``order_id`` as an id column."""
    raw = yaml.safe_load((ROOT / "datasets" / f"{DATASET}.yaml").read_text())
    raw["id_columns"] = ["order_id"]
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    (datasets / f"{DATASET}.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("DRIFTGATE_DATASETS_DIR", str(datasets))
    monkeypatch.setenv("DRIFTGATE_DATASET", DATASET)
    get_settings.cache_clear()
    ctx = build_context(get_settings())
    client = configure_mlflow(ctx.settings)
    version, model = register_version(ctx.spec, ctx.model_name, seed=1)
    set_champion(client, ctx.model_name, version)
    return ctx, model


def to_score(ctx: Context, n: int = 30) -> pd.DataFrame:
    rows = training_rows(ctx.spec, seed=9, n=n)
    return rows.assign(order_id=[f"o-{i:03d}" for i in range(n)])[["order_id", *ctx.spec.columns]]


def expected_proba(ctx: Context, model: Any, frame: pd.DataFrame) -> np.ndarray:
    X = normalize(frame[ctx.spec.feature_names], ctx.spec)
    return np.asarray(model.predict_proba(X))[:, list(model.classes_).index("1")]


def run_cli(*args: str) -> tuple[int, str, str]:
    """``driftgate ARGS`` in this process (its Prefect harness), through the real entry point."""
    import contextlib
    import io

    from driftgate.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["driftgate", *args]
    code: int | str | None = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:  # typer exits even on success
        code = exc.code
    finally:
        sys.argv = argv
    return int(code or 0), out.getvalue(), err.getvalue()


def test_invalid_rows_are_rejected_with_field_and_reason_and_valid_ones_scored_in_input_order(
    champion: tuple[Context, Any], tmp_path: Path
) -> None:
    ctx, model = champion
    frame = to_score(ctx).astype({"num_0": object})
    frame.loc[3, "num_0"] = "abc"  # text in a numeric column
    frame.loc[7, "cat_0"] = "zzz"  # unknown category
    frame.loc[11, "num_1"] = 1e6  # above the spec's maximum
    src = tmp_path / "orders.csv"
    text = frame.to_csv(index=False)
    src.write_text(text[: text.rstrip("\n").rfind(",") - 3])  # the file is cut in the middle of its last line

    code, out, err = run_cli("predict-batch", str(src))

    assert code == 0, err
    assert "26 rows scored" in out
    assert "4 rejected" in out
    scored = pd.read_parquet(tmp_path / "orders.predictions.parquet")
    good = [i for i in range(29) if i not in (3, 7, 11)]
    assert scored["row"].tolist() == good  # input order, only valid rows
    assert scored["order_id"].tolist() == [f"o-{i:03d}" for i in good]  # ids carried through
    assert set(scored["model_version"]) == {"1"}
    np.testing.assert_allclose(scored["proba_1"], expected_proba(ctx, model, to_score(ctx).iloc[good]), rtol=1e-9)
    rejected = pd.read_parquet(tmp_path / "orders.rejected.parquet")
    assert rejected["row"].tolist() == [3, 7, 11, 29]
    assert rejected["field"].tolist() == ["num_0", "cat_0", "num_1", "row"]
    reasons = rejected["reason"].tolist()
    assert "must be a number" in reasons[0]
    assert "unknown category 'zzz'" in reasons[1]
    assert "above the allowed maximum" in reasons[2]
    assert "cut short" in reasons[3]
    assert rejected["order_id"].tolist() == ["o-003", "o-007", "o-011", "o-029"]


def test_a_file_with_no_valid_row_exits_1_with_one_line_and_a_clean_file_leaves_no_rejections(
    champion: tuple[Context, Any], tmp_path: Path
) -> None:
    ctx, _ = champion
    bad = tmp_path / "bad.csv"
    to_score(ctx, 5).drop(columns=["num_2"]).to_csv(bad, index=False)  # a feature missing from every row
    code, out, err = run_cli("predict-batch", str(bad))
    assert code == 1
    assert err.strip().splitlines() == [err.strip()]
    assert "no valid row" in err
    assert "Traceback" not in err + out
    rejected = pd.read_parquet(tmp_path / "bad.rejected.parquet")
    assert set(rejected["field"]) == {"num_2"}
    assert len(rejected) == 5
    assert not (tmp_path / "bad.predictions.parquet").exists()

    good = tmp_path / "good.parquet"
    to_score(ctx, 12).to_parquet(good, index=False)
    (tmp_path / "good.rejected.parquet").write_bytes(b"left over from an earlier run")
    code, out, _ = run_cli("predict-batch", str(good))
    assert code == 0
    assert "12 rows scored" in out
    assert "0 rejected" in out
    assert len(pd.read_parquet(tmp_path / "good.predictions.parquet")) == 12
    assert not (tmp_path / "good.rejected.parquet").exists()
