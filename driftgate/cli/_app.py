"""The ``driftgate`` command line. Each command is a thin shell over the library and the flows."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from driftgate import __version__
from driftgate.errors import DriftgateError

app = typer.Typer(
    name="driftgate",
    help="Continuous training for tabular ML: ingest, validate, detect drift, train, gate, serve, explain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
expectations_app = typer.Typer(help="Great Expectations suites in expectations/.", no_args_is_help=True)
app.add_typer(expectations_app, name="expectations")

log = logging.getLogger("driftgate")

DatasetOpt = Annotated[
    str | None, typer.Option("--dataset", "-d", help="Dataset spec name (default: DRIFTGATE_DATASET).")
]


def _environment_defaults() -> None:
    """Prefect's ephemeral state under driftgate's home, and no progress bars or telemetry.

    The home is created here, before anything imports Prefect: with a missing parent Prefect's
    ephemeral server cannot open its database and the command dies with a long traceback.
    """
    home = Path(os.environ.get("DRIFTGATE_HOME", ".driftgate"))
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DriftgateError(f"cannot create DRIFTGATE_HOME {home}: {exc.strerror or exc}") from exc
    os.environ.setdefault("PREFECT_HOME", str((home / "prefect").resolve()))
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect gives its ephemeral server 20 s; a busy machine needs longer than that to start it
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


class _DomainErrorsWithoutTraceback(logging.Filter):
    """Prefect logs a failed flow's exception with its traceback; a DriftgateError is a message, not a bug."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], DriftgateError):
            record.exc_info, record.exc_text = None, None
        return True


def _version(value: bool) -> None:
    if value:
        typer.echo(f"driftgate {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at DEBUG level.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "urllib3", "alembic", "botocore", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for engine in ("prefect.flow_runs", "prefect.task_runs"):  # kept when Prefect configures its logging
        logging.getLogger(engine).addFilter(_DomainErrorsWithoutTraceback())
    _environment_defaults()
    _check_settings()


def _check_settings() -> None:
    """Every ``DRIFTGATE_*`` setting is read once, up front: a bad value is one line, not a flow's traceback."""
    from pydantic import ValidationError

    from driftgate.settings import get_settings

    try:
        get_settings()
    except ValidationError as exc:
        problems = exc.errors()
        field = str(problems[0]["loc"][0]) if problems[0]["loc"] else ""
        name = f"DRIFTGATE_{field.upper()}" if field else "a setting"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        # the value itself is not repeated: it may be a secret
        raise DriftgateError(f"invalid setting {name}: {problems[0]['msg']}{more}") from None


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

    from driftgate.data_api import Faults, create_data_api
    from driftgate.settings import get_settings
    from driftgate.sources import load_source
    from driftgate.spec import load_spec

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
    from driftgate.settings import get_settings

    s = get_settings()
    uvicorn.run(
        create_app(s), host=host or s.serve_host, port=port or s.serve_port, log_level="warning", access_log=False
    )


@app.command()
def ingest(
    dataset: DatasetOpt = None,
    max_batches: Annotated[int | None, typer.Option(help="At most this many new batches.")] = None,
) -> None:
    """Run the ingest-batches flow: fetch new batches and store each exactly once."""
    from driftgate.flows.ingest import ingest_batches

    numbers = ingest_batches(dataset=dataset, max_batches=max_batches)
    typer.echo(f"ingested batches: {', '.join(map(str, numbers)) or 'none new'}")


@app.command()
def run(
    dataset: DatasetOpt = None,
    max_batches: Annotated[int | None, typer.Option(help="Ingest at most this many new batches.")] = None,
    ingest: Annotated[bool, typer.Option(help="Fetch new batches first.")] = True,
) -> None:
    """Run the continuous-training flow once over every new batch, and print what each batch did."""
    from driftgate.flows.training import continuous_training

    outcomes = continuous_training(dataset=dataset, max_batches=max_batches, ingest=ingest)
    if not outcomes:
        typer.echo("no new batches")
    else:
        _print_table(outcomes)


@app.command()
def monitor(
    dataset: DatasetOpt = None,
    min_rows: Annotated[int, typer.Option(help="Wait for at least this many new predictions.")] = 500,
    trigger: Annotated[bool, typer.Option(help="Run continuous-training when live inputs drifted.")] = True,
) -> None:
    """Run the monitor-predictions flow: drift of live inputs vs the champion's training data."""
    from driftgate.flows.monitor import monitor_predictions

    out = monitor_predictions(dataset=dataset, min_rows=min_rows, trigger=trigger)
    verdict = "retrain" if out["retrain"] else "no retrain"
    typer.echo(f"{out['rows']} new predictions; {verdict}: {'; '.join(out['reasons']) or '-'}")


@app.command("predict-batch")
def predict_batch(
    path: Annotated[str, typer.Argument(help="CSV/Parquet file, folder, s3:// URL or lake prefix.")],
    dataset: DatasetOpt = None,
) -> None:
    """Run the batch-predict flow: valid rows scored beside each input, invalid ones rejected with a reason.

    Exits 1 only when no row of any input was valid.
    """
    from driftgate.flows.batch_predict import batch_predict

    results = batch_predict(path=path, dataset=dataset)
    for r in results:
        typer.echo(f"{r.input}: {r.scored} rows scored -> {r.output or '-'}; {r.rejected} rejected"
                   + (f" -> {r.rejected_output} (field and reason per row)" if r.rejected_output else ""))  # fmt: skip
    if not any(r.scored for r in results):
        raise DriftgateError(f"no valid row to score in {path}; see the rejected rows' field and reason")


@app.command()
def status(dataset: DatasetOpt = None) -> None:
    """What the lake holds and what the registry serves."""
    from driftgate.context import build_context
    from driftgate.registry import champion_version
    from driftgate.settings import get_settings
    from driftgate.tracking import configure_mlflow

    ctx = build_context(get_settings(), dataset)
    ds = ctx.spec.name
    typer.echo(f"dataset {ds}: lake {ctx.lake.url}")
    typer.echo(f"  stored batches: {ctx.lake.stored_numbers(ds)}  cursor: {ctx.lake.cursor(ds)}")
    typer.echo(f"  quarantined: {ctx.lake.batch_numbers(ds, 'quarantine')}")
    client = configure_mlflow(ctx.settings)
    champ = champion_version(client, ctx.model_name)
    versions = client.search_model_versions(f"name = '{ctx.model_name}'")
    typer.echo(f"model {ctx.model_name}: {len(versions)} versions, champion {champ.version if champ else 'none'}")
    from driftgate.tasks.outcome import read_outcomes

    progress = read_outcomes(ctx.lake, ds)
    if progress:
        _print_table(progress)


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="Model version to make champion.")], dataset: DatasetOpt = None
) -> None:
    """Point the champion alias at a version (it must exist and load)."""
    from driftgate.context import build_context
    from driftgate.registry import promote as do_promote
    from driftgate.settings import get_settings
    from driftgate.tracking import configure_mlflow

    ctx = build_context(get_settings(), dataset)
    mv = do_promote(configure_mlflow(ctx.settings), ctx.model_name, version)
    typer.echo(f"champion of {ctx.model_name} is now version {mv.version} (by hand: the gate was not asked)")


@app.command()
def rollback(dataset: DatasetOpt = None) -> None:
    """Move the champion alias back to the version it held before."""
    from driftgate.context import build_context
    from driftgate.registry import rollback as do_rollback
    from driftgate.settings import get_settings
    from driftgate.tracking import configure_mlflow

    ctx = build_context(get_settings(), dataset)
    previous = do_rollback(configure_mlflow(ctx.settings), ctx.model_name)
    typer.echo(f"champion of {ctx.model_name} rolled back to version {previous} (by hand: the gate was not asked)")


@app.command()
def init(
    path: Annotated[str, typer.Argument(help="CSV or Parquet file: local path or s3:// URL.")],
    target: Annotated[str, typer.Option(help="The column to predict.")],
    name: Annotated[str | None, typer.Option(help="Dataset name (default: from the file name).")] = None,
    task: Annotated[str, typer.Option(help="auto, classification or regression.")] = "auto",
    metric: Annotated[str | None, typer.Option(help="Primary metric (default: roc_auc, accuracy or rmse).")] = None,
    id_column: Annotated[list[str] | None, typer.Option("--id", help="Key column carried through (repeat).")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Column to leave out (repeat).")] = None,
    keep: Annotated[list[str] | None, typer.Option(help="Keep a column that looks like an id or is wide.")] = None,
    max_levels: Annotated[int, typer.Option(help="Leave out text columns with more distinct values.")] = 100,
    force: Annotated[bool, typer.Option(help="Replace an existing spec and suite.")] = False,
) -> None:
    """Infer a dataset spec and a GX suite from a file: datasets/<name>.yaml, expectations/<name>.json."""
    from driftgate.data_api.scenario import make_batch, plan_batches
    from driftgate.dialect import detect_file_dialect
    from driftgate.infer import dataset_name_from, infer_spec, spec_yaml
    from driftgate.names import suite_path
    from driftgate.settings import get_settings
    from driftgate.sources import load_source, read_table
    from driftgate.tasks.suites import suite_from_reference, write_suite

    s = get_settings()
    ds_name = name or dataset_name_from(path)
    spec_file = s.datasets_dir / f"{ds_name}.yaml"
    suite_file = suite_path(s.expectations_dir, ds_name)
    if spec_file.exists() and not force:
        raise DriftgateError(f"{spec_file} exists; use --force to replace it")
    options = s.storage_options(path)
    dialect = detect_file_dialect(path, options)
    read = dialect.read if dialect else None
    frame = read_table(path, read=read, storage_options=options)
    inferred = infer_spec(
        frame, target, name=ds_name, source=path, read=read, task=task, metric=metric,
        id_columns=id_column or [], exclude=exclude or [], keep=keep or [], max_levels=max_levels,
    )  # fmt: skip
    spec = inferred.spec
    rows = load_source(spec, storage_options=options)
    try:
        reference = make_batch(rows, spec, plan_batches(rows, spec), 1)
    except ValueError as exc:
        raise DriftgateError(f"{path}: {exc}") from exc
    write_suite(suite_file, suite_from_reference(spec, reference), force=force)
    spec_file.parent.mkdir(parents=True, exist_ok=True)
    spec_file.write_text(spec_yaml(spec, f"Inferred by `driftgate init {path} --target {target}`; review it."))
    if dialect:
        markers = ", ".join(f"{m!r} (in {', '.join(c[:3])})" for m, c in dialect.markers_seen_in.items()) or "none"
        spaces = "skipped" if dialect.read.skipinitialspace else "none"
        typer.echo(f"read: separator {dialect.read.separator!r}, spaces after separators {spaces}, missing {markers}")
    typer.echo(f"{len(frame)} rows, {len(frame.columns)} columns; {len(spec.features)} features\n")
    typer.echo(inferred.table())
    typer.echo(f"\nwrote {spec_file} and {suite_file}; review them and commit them")


@expectations_app.command("init")
def expectations_init(
    dataset: DatasetOpt = None,
    reference: Annotated[
        Path | None, typer.Option(help="CSV/Parquet reference batch (default: batch 1 of the source).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace a suite a person has edited.")] = False,
) -> None:
    """Write a starting suite from the dataset spec and a reference batch."""
    from driftgate.data_api.scenario import make_batch, plan_batches
    from driftgate.frames import normalize
    from driftgate.names import suite_path
    from driftgate.settings import get_settings
    from driftgate.sources import load_source, read_table
    from driftgate.spec import load_spec
    from driftgate.tasks.suites import suite_from_reference, write_suite

    s = get_settings()
    spec = load_spec(dataset or s.dataset, s.datasets_dir)
    if reference is not None:
        ref = normalize(read_table(reference, spec=spec), spec)
    else:
        frame = load_source(spec)
        ref = make_batch(frame, spec, plan_batches(frame, spec), 1)
    path = suite_path(s.expectations_dir, spec.name)
    write_suite(path, suite_from_reference(spec, ref), force=force)
    typer.echo(f"wrote {path} ({len(ref)} reference rows); review it and commit it")


@app.command()
def up(
    prefect_port: Annotated[int, typer.Option(help="Prefect server and UI.")] = 4200,
    mlflow_port: Annotated[int, typer.Option(help="MLflow server and UI.")] = 5000,
    data_api_port: Annotated[int, typer.Option(help="Data API.")] = 8900,
    service_port: Annotated[int, typer.Option(help="Model service.")] = 8000,
) -> None:
    """The local stack: Prefect server + worker (flows deployed), MLflow server, data API, service. Ctrl-C stops it."""
    from driftgate.stack import Stack

    home = Path(os.environ.get("DRIFTGATE_HOME", ".driftgate")) / "stack"
    stack = Stack(home, Path.cwd(), prefect_port, mlflow_port, data_api_port, service_port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a terminate stops the children too (finally below)
    try:
        for name, url in stack.up().items():
            typer.echo(f"{name:<14} {url}")
        typer.echo(f"run the loop: PREFECT_API_URL=http://127.0.0.1:{prefect_port}/api prefect deployment run "
                   "continuous-training/continuous-training  (Ctrl-C stops everything)")  # fmt: skip
        while all(p.poll() is None for p in stack.procs):
            time.sleep(1)
        raise DriftgateError(f"a stack process exited; see the logs in {home / 'logs'}")
    finally:
        stack.down()


def _print_table(outcomes: list[Any]) -> None:
    from driftgate.tasks.outcome import format_table

    typer.echo(format_table(outcomes))


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
    from driftgate.data_api import create_data_api
    from driftgate.servers import ServerThread
    from driftgate.sources import load_source
    from driftgate.spec import load_spec

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
            from driftgate.tasks.outcome import read_outcomes

            _print_table(read_outcomes(ctx.lake, spec.name))
            _demo_prediction(ctx, service.url)
    typer.echo(
        f"\nstate is in {home}/: lake, mlflow.db, artifacts, predictions.db. "
        "Next: `driftgate serve`, `driftgate status`, `mlflow ui --backend-store-uri sqlite:///"
        f"{(home / 'mlflow.db')}`"
    )
    typer.echo(f"\nweb console: `driftgate serve`, then open {settings.service_url()}/console")


def _demo_prediction(ctx: Any, url: str) -> None:
    import httpx

    from driftgate.registry import champion_version
    from driftgate.tasks.train import split_rows
    from driftgate.tracking import configure_mlflow

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


def main() -> None:
    """Entry point: domain errors become one line on stderr and exit code 1."""
    try:
        app()
    except DriftgateError as exc:
        typer.echo(f"driftgate: error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a server's refusal (MLflow, Prefect, HTTP) is one line too; a bug is not
        if type(exc).__name__ not in ("MlflowException", "HTTPStatusError", "ConnectError", "ObjectNotFound"):
            raise
        typer.echo(f"driftgate: error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
