"""Commands that start things on this machine: ``data-api``, ``serve``, ``up`` and ``demo``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from driftgate.cli._app import DatasetOpt, app, log, print_table
from driftgate.errors import DriftgateError


@app.command("data-api")
def data_api(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8900,
    dataset: DatasetOpt = None,
    spec: Annotated[Path | None, typer.Option(help="A dataset spec YAML file (your own data).")] = None,
    source: Annotated[str | None, typer.Option(help="CSV/Parquet file replacing the spec's source.")] = None,
    fault_rate: Annotated[float, typer.Option(help="Share of batch answers that misbehave (0-1).")] = 0.0,
    fault_kinds: Annotated[str, typer.Option(help="Comma list of 5xx,429,slow,truncate.")] = "5xx,429,slow,truncate",
) -> None:
    """Serve a dataset in numbered batches with its drift scenario (the API the flows fetch from)."""
    import uvicorn

    from driftgate.dataset.sources import load_source
    from driftgate.dataset.spec import load_spec
    from driftgate.local.data_api import Faults, create_data_api
    from driftgate.settings import get_settings

    s = get_settings()
    ds = load_spec(spec or dataset or s.dataset, s.datasets_dir)
    try:
        faults = Faults(rate=fault_rate, kinds=tuple(k.strip() for k in fault_kinds.split(",") if k.strip()))
    except ValueError as exc:
        raise DriftgateError(str(exc)) from exc
    api = create_data_api(load_source(ds, source, s.storage_options(source or ds.source)), ds, faults)
    log.info("data API for %s on http://%s:%s (%s batches)", ds.name, host, port, ds.scenario.batches)
    uvicorn.run(api, host=host, port=port, log_level="warning")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface (default DRIFTGATE_SERVE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default DRIFTGATE_SERVE_PORT).")] = None,
) -> None:
    """Serve the champion over HTTP; follows the alias without a restart."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/sklearn load: one-row latency halves
    import uvicorn

    from driftgate.serving.app import create_app
    from driftgate.serving.server import server_options
    from driftgate.settings import get_settings

    s = get_settings()
    limits = server_options(s)  # a deadline to send a request, a cap on connections (docs/security.md)
    uvicorn.run(
        create_app(s),
        host=host or s.serve_host,
        port=port or s.serve_port,
        log_level="warning",
        access_log=False,
        **limits,
    )


@app.command()
def up(
    prefect_port: Annotated[int, typer.Option(help="Prefect server and UI.")] = 4200,
    mlflow_port: Annotated[int, typer.Option(help="MLflow server and UI.")] = 5000,
    data_api_port: Annotated[int, typer.Option(help="Data API.")] = 8900,
    service_port: Annotated[int, typer.Option(help="Model service.")] = 8000,
) -> None:
    """The local stack: Prefect server + worker (flows deployed), MLflow server, data API, service. Ctrl-C stops it."""
    from driftgate.local.stack import Stack

    home = Path(os.environ.get("DRIFTGATE_HOME", ".driftgate")) / "stack"
    stack = Stack(home, Path.cwd(), prefect_port, mlflow_port, data_api_port, service_port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a terminate stops the children too (finally below)
    try:
        for name, url in stack.up().items():
            typer.echo(f"{name:<14} {url}")
        typer.echo(
            f"run the loop: PREFECT_API_URL=http://127.0.0.1:{prefect_port}/api prefect deployment run "
            "continuous-training/continuous-training  (Ctrl-C stops everything)"
        )
        while all(p.poll() is None for p in stack.procs):
            time.sleep(1)
        raise DriftgateError(f"a stack process exited; see the logs in {home / 'logs'}")
    finally:
        stack.down()


@app.command()
def demo(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset to replay.")] = "diamonds",
    fresh: Annotated[bool, typer.Option(help="Delete driftgate's home folder first (a clean run).")] = False,
) -> None:
    """The whole loop on the example data: data API, flow over every batch, service, one prediction."""
    from driftgate.settings import get_settings

    home = Path(os.environ.get("DRIFTGATE_HOME", ".driftgate"))
    if fresh and home.exists():
        shutil.rmtree(home)
        typer.echo(f"removed {home}/ (--fresh)")
    from driftgate.dataset.sources import load_source
    from driftgate.dataset.spec import load_spec
    from driftgate.local.data_api import create_data_api
    from driftgate.local.servers import ServerThread

    base = get_settings()
    spec = load_spec(dataset, base.datasets_dir)
    started = time.monotonic()
    with ServerThread(create_data_api(load_source(spec), spec)) as api:
        os.environ.update(DRIFTGATE_DATA_API_URL=api.url, DRIFTGATE_DATASET=spec.name)
        os.environ.setdefault("DRIFTGATE_POLL_SECONDS", "1")
        get_settings.cache_clear()
        settings = get_settings()
        typer.echo(f"data API: {api.url} ({spec.scenario.batches} batches of {spec.scenario.batch_size} rows)")
        from driftgate.serving.app import create_app

        with ServerThread(create_app(settings)) as service:
            typer.echo(f"model service: {service.url} (follows the 'champion' alias every {settings.poll_seconds:g} s)")
            from driftgate.flows.training import continuous_training

            outcomes = continuous_training(dataset=spec.name)
            from driftgate.context import build_context

            ctx = build_context(settings)
            typer.echo(
                f"\ncontinuous-training processed {len(outcomes)} new batches in "
                f"{time.monotonic() - started:.0f} s; every batch so far:\n"
            )
            from driftgate.stores.outcome import read_outcomes

            print_table(read_outcomes(ctx.lake, spec.name))
            _demo_prediction(ctx, service.url)
    typer.echo(
        f"\nstate is in {home}/: lake, mlflow.db, artifacts, predictions.db. "
        "Next: `driftgate serve`, `driftgate status`, `mlflow ui --backend-store-uri sqlite:///"
        f"{(home / 'mlflow.db')}`"
    )
    typer.echo(f"\nweb console: `driftgate serve`, then open {settings.service_url()}/console")


def _demo_prediction(ctx: Any, url: str) -> None:
    import httpx

    from driftgate.registry.client import champion_version
    from driftgate.registry.tracking import configure_mlflow
    from driftgate.tasks.train import split_rows

    champ = champion_version(configure_mlflow(ctx.settings), ctx.model_name)
    if champ is None:
        raise DriftgateError("the flow finished without a champion; see the table above")
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=url, timeout=10) as client:
        while client.get("/ready").json().get("version") != str(champ.version):
            if time.monotonic() > deadline:
                raise DriftgateError(f"the service did not pick up champion version {champ.version} within 30 s")
            time.sleep(0.2)
        last = ctx.lake.accepted_numbers(ctx.spec.name)[-1]
        row = split_rows(ctx.lake.read_batch(ctx.spec.name, last), "test").iloc[0]
        record = {
            f: (None if row[f] != row[f] else row[f].item() if hasattr(row[f], "item") else row[f])
            for f in ctx.spec.feature_names
        }
        answer = client.post("/predict", json={"records": [record]})
        answer.raise_for_status()
        body = answer.json()
    typer.echo(f"\nPOST {url}/predict {json.dumps({'records': [record]})}")
    typer.echo(f"-> {json.dumps(body)}   (actual {ctx.spec.target}: {row[ctx.spec.target]})")
