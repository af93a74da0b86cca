"""Fault: the S3 lake goes away in the middle of an ingest run, and stays away.

The test starts its own moto S3 server (so that stopping it touches no other test) and stops it
right after batch 5 is written, before the cursor moves past it (the ``after_store`` fault point,
``driftgate.tasks._fault_point``), while the ``ingest-batches`` flow runs against a data API on
127.0.0.1. The store task retries (Prefect's own retries, botocore held to one attempt), the
run then fails; after the server restarts (moto keeps its buckets in-process) a rerun resumes
where the first stopped: every batch stored exactly once, each with the sha256 computed from the
source, the batches stored before the outage byte-identical. See docs/reliability.md.
"""

from __future__ import annotations

import logging
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from driftgate.context import build_context
from driftgate.dataset.sources import load_source
from driftgate.local.data_api import create_data_api
from driftgate.local.servers import ServerThread, free_port
from driftgate.settings import get_settings
from driftgate.tasks import _fault_point
from tests.integration.test_ingest import BATCHES, DATASET, expected_hashes, scenario_spec, snapshot

pytestmark = pytest.mark.slow  # the Prefect test server, an ingest flow run twice

BUCKET = "faults-outage"  # moto keeps every server's buckets in one process: not test_ingest's "outage"
STOP_AFTER = 5


def test_an_s3_outage_mid_ingest_fails_the_run_and_a_rerun_resumes_with_identical_hashes(
    prefect_harness: None, driftgate_env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from driftgate.flows.ingest import ingest_batches

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
    ).create_bucket(Bucket=BUCKET)
    spec = scenario_spec()
    for key, value in {
        "DRIFTGATE_DATASET": DATASET,
        "DRIFTGATE_LAKE_URL": f"s3://{BUCKET}/lake",
        "DRIFTGATE_S3_ENDPOINT_URL": endpoint,
        "DRIFTGATE_S3_KEY": "k",
        "DRIFTGATE_S3_SECRET": "s",
        "AWS_MAX_ATTEMPTS": "1",  # the outage reaches the task: its own retries must carry or fail the run
    }.items():
        monkeypatch.setenv(key, value)
    stored: list[int] = []

    def stop_after_batch_5() -> None:  # called once a batch is written, before the cursor moves past it
        stored.append(len(stored) + 1)  # the flow stores batches one at a time, from 1
        if len(stored) == STOP_AFTER:
            server.stop()  # nothing listens on the port from now on

    try:
        with ServerThread(create_data_api(load_source(spec), spec)) as api:
            monkeypatch.setenv("DRIFTGATE_DATA_API_URL", api.url)
            get_settings.cache_clear()
            monkeypatch.setitem(_fault_point.ACTIONS, "after_store", stop_after_batch_5)
            task_log = logging.getLogger("prefect.task_runs")
            task_log.addHandler(caplog.handler)  # Prefect's loggers do not propagate to pytest's
            try:
                with pytest.raises(Exception) as failed:  # noqa: PT011 (whatever the client raises when S3 is gone)
                    ingest_batches()
            finally:
                task_log.removeHandler(caplog.handler)
            assert stored == list(range(1, STOP_AFTER + 1))  # its retries failed before writing again
            retries = [r.getMessage() for r in caplog.records if "will start" in r.getMessage()]
            assert retries, "the outage was not retried by the task"

            server.start()  # S3 is back
            monkeypatch.delitem(_fault_point.ACTIONS, "after_store")
            ctx = build_context(get_settings())
            before = snapshot("s3")
            assert STOP_AFTER in before
            cursor = ctx.lake.cursor(DATASET)  # batch 5 stored, its record not: the rerun finishes it
            resumed = ingest_batches()
        assert resumed == list(range(cursor + 1, BATCHES + 1))
        assert cursor < STOP_AFTER < BATCHES
        after = snapshot("s3")
        assert sorted(after) == list(range(1, BATCHES + 1))
        assert {n: after[n] for n in before} == before  # nothing stored before the outage was rewritten
        expected = expected_hashes(get_settings().seed)
        for n in range(1, BATCHES + 1):
            manifest = ctx.lake.manifest(DATASET, n)
            assert manifest is not None
            assert manifest.sha256 == expected[n], n
            files = [p.rsplit("/", 1)[-1] for p in ctx.lake.fs.ls(ctx.lake.batch_dir(DATASET, n), detail=False)]
            assert sorted(files) == sorted(["_manifest.json", manifest.file]), (n, files)  # stored once
    finally:
        server.stop()
    print(
        f"\nS3 stopped after batch {STOP_AFTER}; run failed ({type(failed.value).__name__}) after "
        f"{len(retries)} task retries; {len(before)} batches stored before, cursor at {cursor}, "
        f"{len(resumed)} finished by the rerun, 0 lost, 0 duplicated"
    )
