"""Bad batches meet the Great Expectations suite: each is quarantined with a report naming the problem."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftgate.context import build_context
from driftgate.dataset.scenario import make_batch, plan_batches
from driftgate.dataset.sources import load_source
from driftgate.dataset.spec import load_spec
from driftgate.registry.tracking import configure_mlflow
from driftgate.settings import get_settings
from driftgate.tasks.ingest import prepare_batch
from tests.conftest import ROOT

DATASET = "synthetic-regression"


def clean_batch(number: int = 1) -> pd.DataFrame:
    spec = load_spec(DATASET, ROOT / "datasets")
    frame = load_source(spec)
    return make_batch(frame, spec, plan_batches(frame, spec), number)


def _nulls(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df.loc[df.sample(frac=0.3, random_state=0).index, "num_1"] = np.nan
    return df


def _out_of_range(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df.loc[df.index[:50], "num_2"] = 1e6
    return df


def _unseen(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df.loc[df.index[:40], "cat_0"] = "zz-unseen"
    return df


def _wrong_type(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["num_3"] = df["num_3"].map(lambda v: f"{v:.3f} kg")
    return df


BAD: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], str, str | None]] = {
    "missing column": (lambda df: df.drop(columns=["num_2"]), "expect_table_columns_to_match_set", None),
    "extra column": (lambda df: df.assign(surprise=1.0), "expect_table_columns_to_match_set", None),
    "wrong type": (_wrong_type, "expect_column_values_to_be_in_type_list", "num_3"),
    "nulls above the allowed share": (_nulls, "expect_column_values_to_not_be_null", "num_1"),
    "values out of range": (_out_of_range, "expect_column_values_to_be_between", "num_2"),
    "unseen category": (_unseen, "expect_column_values_to_be_in_set", "cat_0"),
    "empty batch": (lambda df: df.head(0), "expect_table_row_count_to_be_between", None),
    "duplicated rows": (
        lambda df: pd.concat([df.head(len(df) // 2)] * 2, ignore_index=True),
        "expect_compound_columns_to_be_unique",
        None,
    ),
}


def store(ctx, number: int, frame: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    ctx.lake.write_batch_once(DATASET, number, prepare_batch(frame, ctx.spec, number))
    ctx.lake.set_cursor(DATASET, max(ctx.lake.cursor(DATASET), number))


@pytest.fixture
def ctx(driftgate_env: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DRIFTGATE_DATASET", DATASET)
    get_settings.cache_clear()
    return build_context(get_settings())


@pytest.mark.parametrize("case", list(BAD))
def test_each_bad_input_is_quarantined_with_the_named_failure(prefect_harness: None, ctx, case: str) -> None:  # type: ignore[no-untyped-def]
    from driftgate.tasks.validate import validate_batch_task

    mutate, expectation, column = BAD[case]
    store(ctx, 1, mutate(clean_batch()))
    result = validate_batch_task(ctx.lake, ctx.spec, 1, ctx.suite_file)
    assert not result.success
    named = [(f.expectation, f.column) for f in result.failures]
    assert any(e == expectation and (column is None or c == column) for e, c in named), named
    assert ctx.lake.is_quarantined(DATASET, 1)
    assert 1 not in ctx.lake.accepted_numbers(DATASET)
    report = ctx.lake.read_json(f"{ctx.lake.batch_dir(DATASET, 1, 'quarantine')}/validation.json")
    assert report["success"] is False
    assert any(f["expectation"] == expectation for f in report["failures"])
    page = ctx.lake.fs.cat_file(f"{ctx.lake.batch_dir(DATASET, 1, 'quarantine')}/report.html").decode()
    assert expectation in page
    if column:
        assert column in page
    docs = ctx.lake.path("reports", "datadocs", DATASET)
    assert ctx.lake.exists(f"{docs}/index.html")  # GX Data Docs, built into the lake's reports folder
    pages = [p for p in ctx.lake.fs.find(f"{docs}/validations") if p.endswith(".html")]
    assert pages
    assert "batch-1" in pages[-1]


def test_a_clean_batch_passes_and_is_accepted(prefect_harness: None, ctx) -> None:  # type: ignore[no-untyped-def]
    from driftgate.tasks.validate import validate_batch_task

    store(ctx, 1, clean_batch())
    result = validate_batch_task(ctx.lake, ctx.spec, 1, ctx.suite_file)
    assert result.success, result.failures
    assert ctx.lake.accepted_numbers(DATASET) == [1]


def test_the_flow_goes_on_after_bad_batches_and_never_trains_on_them(prefect_harness: None, ctx) -> None:  # type: ignore[no-untyped-def]

    from driftgate.alerts.events import QUARANTINED
    from driftgate.flows.training import continuous_training
    from driftgate.registry.client import champion_version, lineage
    from tests.integration.test_events import events_named, read_events, wait_for

    since = datetime.now(UTC)  # an earlier test's quarantines (batch 1) were sent before
    store(ctx, 1, clean_batch(1))
    for number, case in enumerate(["wrong type", "unseen category", "duplicated rows"], start=2):
        store(ctx, number, BAD[case][0](clean_batch(number)))
    store(ctx, 5, clean_batch(2))
    outcomes = {o.batch: o for o in continuous_training(ingest=False)}
    assert [outcomes[n].valid for n in range(1, 6)] == [True, False, False, False, True]
    assert ctx.lake.batch_numbers(DATASET, "quarantine") == [2, 3, 4]
    client = configure_mlflow(get_settings())
    for mv in client.search_model_versions(f"name = '{ctx.model_name}'"):
        assert {b.number for b in lineage(client, mv)} <= {1, 5}
    assert champion_version(client, ctx.model_name) is not None
    # each quarantine is one driftgate.batch.quarantined event on the Prefect server (docs/alerts.md)
    resource = f"driftgate.dataset.{DATASET}"
    wait_for("quarantined events", events_named(resource, since, {QUARANTINED}))
    time.sleep(2)  # the flow's last events arrive a moment after it ends
    sent = [e["payload"]["batch"] for e in read_events(resource, since) if e["event"] == QUARANTINED]
    assert sorted(sent) == [2, 3, 4]
