"""The compose path without Docker: real Prefect server + worker, MLflow server, S3 (moto) on 127.0.0.1.

The same code paths docker-compose runs (prefect.yaml deployments on a process work pool, an
MLflow server with S3 artifacts, the lake on S3), started here as local processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftgate.dataset.sources import load_source
from driftgate.dataset.spec import load_spec
from driftgate.local.data_api import create_data_api
from driftgate.local.servers import ServerThread, free_port
from driftgate.local.stack import wait_http
from tests.conftest import ROOT, popen_logged, stop

BIN = Path(sys.executable).parent
DATASET = "synthetic-regression"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    import boto3
    from moto.server import ThreadedMotoServer

    tmp = tmp_path_factory.mktemp("stack")
    s3_port = free_port()
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port)
    s3.start()
    endpoint = f"http://127.0.0.1:{s3_port}"
    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
    )
    for bucket in ("driftgate", "mlflow"):
        client.create_bucket(Bucket=bucket)
    spec = load_spec(DATASET, ROOT / "datasets")
    api = ServerThread(create_data_api(load_source(spec), spec)).__enter__()
    mlflow_port, prefect_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_", "DRIFTGATE_"))},
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MLFLOW_S3_ENDPOINT_URL": endpoint,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "PREFECT_HOME": str(tmp / "prefect"),
        "PREFECT_API_URL": f"http://127.0.0.1:{prefect_port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
        "DRIFTGATE_HOME": str(tmp / "home"),
        "DRIFTGATE_DATASET": DATASET,
        "DRIFTGATE_DATASETS_DIR": str(ROOT / "datasets"),
        "DRIFTGATE_EXPECTATIONS_DIR": str(ROOT / "expectations"),
        "DRIFTGATE_LAKE_URL": "s3://driftgate/lake",
        "DRIFTGATE_S3_ENDPOINT_URL": endpoint,
        "DRIFTGATE_S3_KEY": "k",
        "DRIFTGATE_S3_SECRET": "s",
        "DRIFTGATE_DATA_API_URL": api.url,
        "DRIFTGATE_PROJECT_DIR": str(ROOT),
        "DRIFTGATE_SEARCH_ITER": "2",
        "DRIFTGATE_EXPLAIN_ROWS": "200",
        "GX_ANALYTICS_ENABLED": "false",
        "COLUMNS": "250",
    }
    logs = tmp / "logs"
    logs.mkdir()
    procs = [
        popen_logged(
            [
                str(BIN / "mlflow"),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(mlflow_port),
                "--workers",
                "1",
                "--backend-store-uri",
                f"sqlite:///{tmp}/mlflow.db",
                "--artifacts-destination",
                "s3://mlflow/artifacts",
            ],
            logs / "mlflow.log",
            env=env,
        ),
        popen_logged(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(prefect_port)],
            logs / "prefect.log",
            env=env,
        ),
    ]
    try:
        wait_http(f"http://127.0.0.1:{mlflow_port}/health", procs[0])
        wait_http(f"http://127.0.0.1:{prefect_port}/api/health", procs[1])
        yield {**env, "_LOGS": str(logs)}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            stop(p)
        api.__exit__(None, None, None)
        s3.stop()


def prefect(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "prefect"), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def pause_scheduled_ingest(api_url: str) -> None:
    """ingest-batches polls every 15 minutes once deployed (and its batches start training): here the
    test alone decides what is ingested, so its schedule is paused and any run it made is removed."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("ingest-batches/ingest-batches")
        for schedule in deployment.schedules:
            client.update_deployment_schedule(deployment.id, schedule.id, active=False)
        for run in client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
        ):
            client.delete_flow_run(run.id)


def test_deploy_from_prefect_yaml_and_run_continuous_training_through_a_worker(stack: dict[str, str]) -> None:
    from mlflow.tracking import MlflowClient

    from driftgate.stores.lake import Lake

    env = stack
    pool = prefect(env, "work-pool", "create", "driftgate-process", "--type", "process")
    assert pool.returncode == 0, pool.stdout + pool.stderr
    deploy = prefect(env, "--no-prompt", "deploy", "--all")
    assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
    listed = prefect(env, "deployment", "ls")
    for name in ("continuous-training", "monitor-predictions", "ingest-batches", "batch-predict"):
        assert name in listed.stdout
    automations = prefect(env, "automation", "ls")  # prefect.yaml's triggers: the event-triggered runs
    for name in ("driftgate-train-on-arrival", "driftgate-score-on-promotion"):
        assert name in automations.stdout, automations.stdout
    pause_scheduled_ingest(env["PREFECT_API_URL"])
    worker = popen_logged(
        [str(BIN / "prefect"), "worker", "start", "--pool", "driftgate-process"],
        Path(env["_LOGS"]) / "worker.log",
        env=env,
        cwd=ROOT,
    )
    try:
        run = prefect(
            env,
            "deployment",
            "run",
            "continuous-training/continuous-training",
            "--param",
            "max_batches=2",
            "--watch",
            "--watch-timeout",
            "400",
            timeout=450,
        )
        assert run.returncode == 0, run.stdout[-3000:] + (Path(env["_LOGS"]) / "worker.log").read_text()[-4000:]
        assert "Completed" in run.stdout
        # the schedules work too (sqlalchemy 2.1 would silently break this): the 15-minute monitor is scheduled
        scheduled = prefect(env, "flow-run", "ls", "--state", "Scheduled")
        assert "monitor-predictions" in scheduled.stdout, scheduled.stdout
    finally:
        stop(worker)
    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"], registry_uri=env["MLFLOW_TRACKING_URI"])
    champ = client.get_model_version_by_alias("synthetic-regressor", "champion")
    assert champ is not None
    artifacts = {a.path for a in client.list_artifacts(champ.run_id, "explanations")}
    assert "explanations/importance.json" in artifacts  # artifacts went through the server into S3
    lake = Lake(
        "s3://driftgate/lake",
        {"key": "k", "secret": "s", "client_kwargs": {"endpoint_url": env["DRIFTGATE_S3_ENDPOINT_URL"]}},
    )
    assert lake.stored_numbers(DATASET) == [1, 2]
