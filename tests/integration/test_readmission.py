"""A readmission-shaped table through ``init`` with no flags, ``run`` and the service, as a new user would.

The table (driftgate.dataset.synthetic.make_readmission) is seeded: 50 columns, a patient key with repeat
visits, an encounter id, integer code columns, a 97 %-missing categorical column and three
700-level diagnosis codes. Real parts: the data API, the Prefect harness, MLflow on SQLite, the
model service on 127.0.0.1.
"""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from driftgate.dataset.synthetic import make_readmission
from driftgate.settings import get_settings
from tests.conftest import ServerThread, wait_ready

ROWS = 2000


@pytest.fixture
def readmission_home(driftgate_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DRIFTGATE_DATASETS_DIR", str(tmp_path / "datasets"))
    monkeypatch.setenv("DRIFTGATE_EXPECTATIONS_DIR", str(tmp_path / "expectations"))
    monkeypatch.setenv("DRIFTGATE_DATASET", "readmission")
    monkeypatch.setenv("DRIFTGATE_TRAIN_WINDOW", "3")
    monkeypatch.setenv("DRIFTGATE_N_JOBS", "1")  # one process: the 2 shared cores are busy enough
    get_settings.cache_clear()
    path = tmp_path / "readmission.csv"
    make_readmission(n=ROWS, seed=0).to_csv(path, index=False)
    return path


def record_of(row: pd.Series, spec) -> dict[str, object]:  # type: ignore[no-untyped-def]
    out: dict[str, object] = {}
    for f in spec.features:
        value = row[f.name]
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        out[f.name] = None if missing else (float(value) if f.type == "numeric" else str(value))
    return out


@pytest.mark.timeout(1800)  # about a minute on a quiet machine; the shared one is not
def test_readmission_table_init_with_no_flags_run_and_serve(
    prefect_harness: None, readmission_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftgate.cli import app
    from driftgate.context import build_context
    from driftgate.dataset.sources import load_source
    from driftgate.local.data_api import create_data_api
    from driftgate.serving.app import create_app

    runner = CliRunner()
    init = runner.invoke(app, ["init", str(readmission_home), "--target", "readmitted"])
    assert init.exit_code == 0, init.output
    assert "group key" in init.output
    ctx = build_context(get_settings())
    spec = ctx.spec
    assert spec.group_key == "patient_nbr"
    assert spec.id_columns == ["encounter_id"]
    for code in ("admission_type_id", "discharge_disposition_id", "admission_source_id"):
        assert spec.feature(code).type == "categorical"
    assert spec.feature("weight").type == "categorical"  # 97 % missing

    source = load_source(spec)
    with ServerThread(create_data_api(source, spec)) as api:
        monkeypatch.setenv("DRIFTGATE_DATA_API_URL", api.url)
        get_settings.cache_clear()
        run = runner.invoke(app, ["run"])
    assert run.exit_code == 0, run.output
    ctx = build_context(get_settings())
    stored = ctx.lake.stored_numbers(spec.name)
    assert len(stored) >= 2
    rows = pd.concat([ctx.lake.read_batch(spec.name, n) for n in stored], ignore_index=True)
    sides = rows.groupby("patient_nbr")["_split"].nunique()
    assert (sides == 1).all(), sides[sides > 1].head()  # no patient on both sides, across batches
    assert rows["patient_nbr"].duplicated().any()  # the key does repeat

    with ServerThread(create_app(get_settings())) as srv:
        ready = wait_ready(srv.url)
        assert ready.status_code == 200, ready.text  # the mostly-missing column did not break the signature
        records = [record_of(source.iloc[i], spec) for i in range(3)]
        answer = httpx.post(f"{srv.url}/predict", json={"records": records}, timeout=60)
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 3
