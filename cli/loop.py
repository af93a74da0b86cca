"""Commands that run the loop's flows: ``ingest``, ``run``, ``monitor``, ``predict-batch``, ``status``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from driftgate.cli._app import DatasetOpt, app, print_table
from driftgate.errors import DriftgateError

if TYPE_CHECKING:
    from driftgate.context import Context
    from driftgate.registry.view import RegistryView


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
    retrain: Annotated[
        bool, typer.Option("--retrain", help="Retrain on the newest window even if no batch asks for it (forced).")
    ] = False,
) -> None:
    """Run the continuous-training flow once over every new batch, and print what each batch did.

    Which batches retrain follows DRIFTGATE_RETRAIN_POLICY; the table's ``trigger`` says why.
    """
    from driftgate.flows.training import continuous_training

    outcomes = continuous_training(dataset=dataset, max_batches=max_batches, ingest=ingest, retrain=retrain)
    if not outcomes:
        typer.echo("no new batches")
    else:
        print_table(outcomes)


@app.command()
def monitor(
    dataset: DatasetOpt = None,
    min_rows: Annotated[int, typer.Option(help="Wait for at least this many new predictions.")] = 500,
    trigger: Annotated[bool, typer.Option(help="Run continuous-training when live inputs drifted.")] = True,
) -> None:
    """Run the monitor-predictions flow: drift of live inputs vs the champion's training data."""
    from driftgate.flows.monitor import monitor_predictions

    out = monitor_predictions(dataset=dataset, min_rows=min_rows, trigger=trigger)
    typer.echo(out.summary())


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
        typer.echo(
            f"{r.input}: {r.scored} rows scored -> {r.output or '-'}; {r.rejected} rejected"
            + (f" -> {r.rejected_output} (field and reason per row)" if r.rejected_output else "")
        )
        for line in r.column_lines():
            typer.echo(line)
    if not any(r.scored for r in results):
        raise DriftgateError(f"no valid row to score in {path}; see the rejected rows' field and reason")


def champion_problem(ctx: Context, view: RegistryView) -> str | None:
    """Why the service would refuse the champion, or None when it loads.

    The verdict recorded when it was last checked (at promotion) answers, without loading the model;
    only a missing or stale one (the spec was edited, a library upgraded) loads it, and records the new verdict.
    """
    from driftgate.models.servable import SERVABLE_TAG, recorded_verdict

    assert view.champion is not None
    verdict = recorded_verdict(view.champion_tags.get(SERVABLE_TAG), ctx.spec)
    if verdict is not None:
        return verdict.refused
    from driftgate.errors import ModelLoadError
    from driftgate.models.model_loader import check_servable
    from driftgate.registry.tracking import configure_mlflow

    configure_mlflow(ctx.settings)
    try:
        check_servable(ctx.model_name, view.champion, ctx.spec)
    except ModelLoadError as exc:
        return str(exc).split(" refused: ", 1)[-1]
    return None


@app.command()
def status(dataset: DatasetOpt = None) -> None:
    """What the lake holds and what the registry serves (reads only: no model is loaded, no server started)."""
    from driftgate.context import build_context
    from driftgate.registry.view import read_registry
    from driftgate.settings import get_settings
    from driftgate.stores.outcome import read_outcomes

    ctx = build_context(get_settings(), dataset)
    ds = ctx.spec.name
    typer.echo(f"dataset {ds}: lake {ctx.lake.url}")
    typer.echo(f"  stored batches: {ctx.lake.stored_numbers(ds)}  cursor: {ctx.lake.cursor(ds)}")
    typer.echo(f"  quarantined: {ctx.lake.batch_numbers(ds, 'quarantine')}")
    view = read_registry(ctx.settings.resolved_tracking_uri(), ctx.model_name)
    typer.echo(f"model {ctx.model_name}: {view.versions} versions, champion {view.champion or 'none'}")
    if view.champion is not None and (broken := champion_problem(ctx, view)):
        typer.echo(f"  champion {view.champion} does not load: {broken} (run trains a new one; rollback moves back)")
    progress = read_outcomes(ctx.lake, ds)
    if progress:
        print_table(progress)
