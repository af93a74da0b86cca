"""Exactly-once ingestion under faults, on local files and on a real S3-compatible server (moto)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from driftgate.context import build_context
from driftgate.dataset.frames import content_hash
from driftgate.dataset.scenario import make_batch, plan_batches
from driftgate.dataset.sources import load_source
from driftgate.dataset.spec import load_spec
from driftgate.errors import BatchConflictError
from driftgate.local.data_api import Faults, create_data_api
from driftgate.local.servers import ServerThread, free_port
from driftgate.settings import get_settings
from driftgate.tasks.ingest import prepare_batch
from tests.conftest import ROOT

DATASET = "synthetic-classification"
BATCHES, ROWS = 20, 300  # enough answers for ~30 % faults to hit every kind


def scenario_spec():  # type: ignore[no-untyped-def]
    spec = load_spec(DATASET, ROOT / "datasets")
    spec.scenario.batches, spec.scenario.batch_size = BATCHES, ROWS
    return spec


@pytest.fixture(params=["file", "s3"])
def lake_env(request: pytest.FixtureRequest, driftgate_env: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DRIFTGATE_DATASET", DATASET)
    if request.param == "s3":
        import boto3

        endpoint = request.getfixturevalue("s3_server")
        bucket = f"lake-{abs(hash(str(driftgate_env))) % 10**8}"
        boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
        ).create_bucket(Bucket=bucket)
        monkeypatch.setenv("DRIFTGATE_LAKE_URL", f"s3://{bucket}/lake")
        monkeypatch.setenv("DRIFTGATE_S3_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("DRIFTGATE_S3_KEY", "k")
        monkeypatch.setenv("DRIFTGATE_S3_SECRET", "s")
    get_settings.cache_clear()
    return str(request.param)


def expected_hashes(seed: int) -> dict[int, str]:
    """What each batch must hash to: computed from the source, not from what was fetched."""
    spec = scenario_spec()
    frame = load_source(spec)
    plan = plan_batches(frame, spec)
    return {
        n: content_hash(prepare_batch(make_batch(frame, spec, plan, n), spec, n, seed))
        for n in range(1, spec.scenario.batches + 1)
    }


@pytest.fixture
def faulty_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerThread]:
    spec = scenario_spec()
    faults = Faults(rate=0.3, slow_seconds=1.5, retry_after=0, seed=3)  # 5xx, 429, slow, truncate
    with ServerThread(create_data_api(load_source(spec), spec, faults)) as server:
        server.faults = faults  # type: ignore[attr-defined]
        monkeypatch.setenv("DRIFTGATE_DATA_API_URL", server.url)
        monkeypatch.setenv("DRIFTGATE_FETCH_TIMEOUT_S", "0.75")  # the slow answers time out
        monkeypatch.setenv("DRIFTGATE_FETCH_RETRIES", "12")
        monkeypatch.setenv("DRIFTGATE_FETCH_BACKOFF_S", "0.01")
        get_settings.cache_clear()
        yield server


def snapshot(lake_env: str) -> dict[int, bytes]:
    ctx = build_context(get_settings())
    return {n: ctx.lake.fs.cat_file(ctx.lake.data_path(DATASET, n)) for n in ctx.lake.stored_numbers(DATASET)}


def test_ingest_under_30_percent_faults_stores_every_batch_once_with_the_right_content(
    prefect_harness: None, lake_env: str, faulty_api: ServerThread
) -> None:
    from driftgate.flows.ingest import ingest_batches

    assert ingest_batches() == list(range(1, BATCHES + 1))
    assert set(faulty_api.faults.injected) == {"5xx", "429", "slow", "truncate"}  # type: ignore[attr-defined]
    ctx = build_context(get_settings())
    assert ctx.lake.url.startswith("s3://" if lake_env == "s3" else "file://")
    assert ctx.lake.stored_numbers(DATASET) == list(range(1, BATCHES + 1))
    assert ctx.lake.cursor(DATASET) == BATCHES
    expected = expected_hashes(get_settings().seed)
    for n in range(1, BATCHES + 1):
        manifest = ctx.lake.manifest(DATASET, n)
        assert manifest is not None
        assert manifest.sha256 == expected[n], n
        assert manifest.rows == ROWS
        assert content_hash(ctx.lake.read_batch(DATASET, n)) == expected[n]
    before = snapshot(lake_env)
    assert ingest_batches() == []  # a rerun adds nothing ...
    assert snapshot(lake_env) == before  # ... and rewrites nothing


def test_a_flow_killed_after_batch_2_resumes_at_batch_3_without_duplicates(
    prefect_harness: None, lake_env: str, faulty_api: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    import driftgate.flows.ingest as ingest_flow

    real = ingest_flow.store_batch_task

    class KilledError(Exception):
        pass

    def crash_after_2(lake, spec, number, frame):  # type: ignore[no-untyped-def]
        manifest = real(lake, spec, number, frame)
        if number == 2:
            raise KilledError("process killed after batch 2 was written")  # the fault we cannot cause for real
        return manifest

    monkeypatch.setattr(ingest_flow, "store_batch_task", crash_after_2)
    with pytest.raises(KilledError):
        ingest_flow.ingest_batches()
    ctx = build_context(get_settings())
    assert ctx.lake.stored_numbers(DATASET) == [1, 2]
    assert ctx.lake.cursor(DATASET) == 2
    first_two = snapshot(lake_env)
    monkeypatch.setattr(ingest_flow, "store_batch_task", real)
    assert ingest_flow.ingest_batches() == list(range(3, BATCHES + 1))
    after = snapshot(lake_env)
    assert sorted(after) == list(range(1, BATCHES + 1))
    assert {n: after[n] for n in (1, 2)} == first_two


def test_different_content_under_a_stored_number_is_refused_not_overwritten(lake_env: str) -> None:
    spec = load_spec(DATASET, ROOT / "datasets")
    ctx = build_context(get_settings())
    frame = prepare_batch(load_source(spec).head(100), spec, 1)
    manifest, created = ctx.lake.write_batch_once(DATASET, 1, frame)
    assert created
    again, created_again = ctx.lake.write_batch_once(DATASET, 1, frame)
    assert not created_again
    assert again == manifest
    changed = frame.copy()
    changed.loc[0, "num_0"] = 123.0
    with pytest.raises(BatchConflictError, match="refusing different content"):
        ctx.lake.write_batch_once(DATASET, 1, changed)
    pd.testing.assert_frame_equal(ctx.lake.read_batch(DATASET, 1), frame)


def test_a_batch_that_never_arrives_fails_naming_the_batch(
    prefect_harness: None, driftgate_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftgate.errors import BatchFetchError
    from driftgate.flows.ingest import ingest_batches

    spec = load_spec(DATASET, ROOT / "datasets")
    with ServerThread(create_data_api(load_source(spec), spec, Faults(rate=1.0, kinds=("5xx",)))) as server:
        monkeypatch.setenv("DRIFTGATE_DATASET", DATASET)
        monkeypatch.setenv("DRIFTGATE_DATA_API_URL", server.url)
        monkeypatch.setenv("DRIFTGATE_FETCH_RETRIES", "2")
        monkeypatch.setenv("DRIFTGATE_FETCH_BACKOFF_S", "0.01")
        get_settings.cache_clear()
        with pytest.raises(BatchFetchError, match="batch 1"):
            ingest_batches()
    assert build_context(get_settings()).lake.stored_numbers(DATASET) == []


def test_a_storage_outage_during_a_write_is_retried(
    prefect_harness: None, driftgate_env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The S3 server goes away for ~3 s while a batch is stored; the store task's own retries carry it through.

    botocore is held to one attempt (AWS_MAX_ATTEMPTS=1), so the layers below the task cannot absorb the
    outage: the test fails unless the task itself ran more than once.
    """
    import threading

    import boto3
    from moto.server import ThreadedMotoServer

    from driftgate.tasks.ingest import store_batch_task

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
    ).create_bucket(Bucket="outage")
    for key, value in {
        "DRIFTGATE_DATASET": DATASET,
        "DRIFTGATE_LAKE_URL": "s3://outage/lake",
        "DRIFTGATE_S3_ENDPOINT_URL": endpoint,
        "DRIFTGATE_S3_KEY": "k",
        "DRIFTGATE_S3_SECRET": "s",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    get_settings.cache_clear()
    ctx = build_context(get_settings())
    spec = scenario_spec()
    frame = prepare_batch(make_batch(load_source(spec), spec, plan_batches(load_source(spec), spec), 1), spec, 1)
    server.stop()  # outage: nothing listens on the port
    restarted = threading.Timer(3.0, server.start)  # moto keeps its buckets in-process across restarts
    restarted.start()
    try:
        task_log = logging.getLogger("prefect.task_runs")
        task_log.addHandler(caplog.handler)  # Prefect's loggers do not propagate to pytest's
        try:
            manifest = store_batch_task(ctx.lake, ctx.spec, 1, frame)
        finally:
            task_log.removeHandler(caplog.handler)
        retries = [r.getMessage() for r in caplog.records if "will start" in r.getMessage()]
        assert retries, "the outage was absorbed below the task: its own retry never ran"
        assert manifest.sha256 == content_hash(frame)
        assert ctx.lake.stored_numbers(DATASET) == [1]
        assert content_hash(ctx.lake.read_batch(DATASET, 1)) == content_hash(frame)
    finally:
        restarted.join()
        server.stop()
