"""Fault: the S3 lake goes away while a retrain reads its window of batches, and stays away.

The lake is a bucket on the test's own moto S3 server (stopping it touches no other test). A first
run stores and processes three small batches (the first model trains on batch 1); a forced retrain
then reads the window of batches 1-3 from S3, and the test stops the server as the window's second
batch is about to be read (``driftgate.tasks._fault_point``: ``in_window_read``). botocore is held
to one attempt, so the window-reading task's own retries meet the outage; past them the run fails.
With S3 back (moto keeps its buckets in-process) a rerun trains on the same window: every batch
byte-identical, and the new version's lineage names each batch with the sha256 it was stored with.
See docs/reliability.md.
"""

from __future__ import annotations

import logging
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from driftgate.context import build_context
from driftgate.local.data_api import create_data_api
from driftgate.local.servers import ServerThread, free_port
from driftgate.registry.client import champion_version, lineage
from driftgate.settings import get_settings
from driftgate.dataset.sources import load_source
from driftgate.tasks import _fault_point
from driftgate.registry.tracking import configure_mlflow
from tests.faults.test_training_killed import DATASET, MODEL, small_spec

pytestmark = pytest.mark.slow  # the Prefect test server, the training flow run three times

BUCKET = "faults-window"  # moto keeps every server's buckets in one process: a name of its own
BATCHES = 3


def test_an_s3_outage_while_a_window_is_read_is_retried_then_fails_and_a_rerun_trains_on_identical_batches(
    prefect_harness: None,
    mlflow_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from driftgate.flows.training import continuous_training

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
    ).create_bucket(Bucket=BUCKET)
    spec = small_spec()
    spec.scenario.batches = BATCHES
    for key, value in {
        "DRIFTGATE_DATASET": DATASET,
        "DRIFTGATE_RETRAIN_POLICY": "never",  # batch 1 trains the first model; the retrain is asked for
        "DRIFTGATE_LAKE_URL": f"s3://{BUCKET}/lake",
        "DRIFTGATE_S3_ENDPOINT_URL": endpoint,
        "DRIFTGATE_S3_KEY": "k",
        "DRIFTGATE_S3_SECRET": "s",
        "AWS_MAX_ATTEMPTS": "1",  # the outage reaches the task: its own retries must carry or fail the run
    }.items():
        monkeypatch.setenv(key, value)
    reads: list[int] = []

    def stop_at_second_batch() -> None:
        reads.append(len(reads) + 1)
        if len(reads) == 2:
            server.stop()  # nothing listens on the port from now on

    task_log = logging.getLogger("prefect.task_runs")
    try:
        with ServerThread(create_data_api(load_source(spec), spec)) as api:
            monkeypatch.setenv("DRIFTGATE_DATA_API_URL", api.url)
            get_settings.cache_clear()
            first = continuous_training()
            assert [o.batch for o in first] == list(range(1, BATCHES + 1))
        ctx = build_context(get_settings())
        before = {n: ctx.lake.fs.cat_file(ctx.lake.data_path(DATASET, n)) for n in range(1, BATCHES + 1)}
        hashes = {n: ctx.lake.manifest(DATASET, n).sha256 for n in range(1, BATCHES + 1)}  # type: ignore[union-attr]

        monkeypatch.setitem(_fault_point.ACTIONS, "in_window_read", stop_at_second_batch)
        task_log.addHandler(caplog.handler)  # Prefect's loggers do not propagate to pytest's
        try:
            with pytest.raises(Exception) as failed:  # noqa: PT011 (whatever the client raises when S3 is gone)
                continuous_training(ingest=False, retrain=True)
        finally:
            task_log.removeHandler(caplog.handler)
        retries = [r.getMessage() for r in caplog.records if "will start" in r.getMessage()]
        assert retries, "the outage was not retried by the task"
        assert len(reads) > 2  # the window was read again by each retry

        server.start()  # S3 is back
        monkeypatch.delitem(_fault_point.ACTIONS, "in_window_read")
        rerun = continuous_training(ingest=False, retrain=True)  # the failed run's lease could not be released
        assert len(rerun) == 1
        assert rerun[0].retrained
        assert rerun[0].window == list(range(1, BATCHES + 1))
        after = {n: ctx.lake.fs.cat_file(ctx.lake.data_path(DATASET, n)) for n in range(1, BATCHES + 1)}
        assert after == before  # not one batch rewritten
        client = configure_mlflow(get_settings())
        version = client.get_model_version(MODEL, rerun[0].version)
        assert {b.number: b.sha256 for b in lineage(client, version)} == hashes
        champ = champion_version(client, MODEL)
        assert champ is not None
    finally:
        server.stop()
    print(
        f"\nS3 stopped before batch 2 of the window [1, 2, 3] was read; {len(retries)} task retries; "
        f"the run failed: {type(failed.value).__name__}: {str(failed.value).splitlines()[0][:200]}; "
        f"the rerun trained version {rerun[0].version} on the same 3 batches, byte-identical; 0 lost"
    )
