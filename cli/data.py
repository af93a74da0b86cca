"""Commands that turn a file into a dataset: ``init`` and ``expectations init``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from driftgate.cli._app import DatasetOpt, app, expectations_app

INIT_FLAGS = {
    "id_columns": "--id",
    "exclude": "--exclude",
    "keep": "--keep",
    "group": "--group",
    "categorical": "--categorical",
    "numeric": "--numeric",
    "time_column": "--time",
    "no_time": "--no-time",
    "no_calendar": "--no-calendar",
    "force": "--force",
}
"""``init``'s flags by the option they set (:class:`driftgate.dataset.infer.InitOptions`): the decision
table and the errors name them as the person typed them."""


@app.command()
def init(
    path: Annotated[str, typer.Argument(help="CSV or Parquet file: local path or s3:// URL.")],
    target: Annotated[str, typer.Option(help="The column to predict.")],
    name: Annotated[str | None, typer.Option(help="Dataset name (default: from the file name).")] = None,
    task: Annotated[str, typer.Option(help="auto, classification or regression.")] = "auto",
    metric: Annotated[str | None, typer.Option(help="Primary metric (default: roc_auc, accuracy or rmse).")] = None,
    id_column: Annotated[list[str] | None, typer.Option("--id", help="Key column carried through (repeat).")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Column to leave out (repeat).")] = None,
    keep: Annotated[list[str] | None, typer.Option(help="Keep a column as a feature that looks like an id.")] = None,
    group: Annotated[
        str | None, typer.Option(help="Group key: a key value's rows stay on one side of every split.")
    ] = None,
    categorical: Annotated[list[str] | None, typer.Option(help="Type a column categorical (repeat).")] = None,
    numeric: Annotated[list[str] | None, typer.Option(help="Type a column numeric, not codes (repeat).")] = None,
    time: Annotated[
        str | None, typer.Option("--time", help="Time column: rows ordered by it, tested on the latest rows.")
    ] = None,
    ordered: Annotated[
        bool, typer.Option("--ordered", help="Rows are in time order (file order): test on the latest rows.")
    ] = False,
    no_time: Annotated[
        bool, typer.Option("--no-time", help="Do not propose a datetime column as the time column.")
    ] = False,
    no_calendar: Annotated[
        bool, typer.Option("--no-calendar", help="Do not learn the time column's hour, day of week and month.")
    ] = False,
    force: Annotated[bool, typer.Option(help="Replace an existing spec and suite.")] = False,
) -> None:
    """Infer a dataset spec and a GX suite from a file: datasets/<name>.yaml, expectations/<name>.json."""
    from driftgate.dataset.infer import InitOptions
    from driftgate.dataset.own_data import plan_dataset, write_spec
    from driftgate.settings import get_settings
    from driftgate.tasks.validate import suite_from_reference, write_suite

    opts = InitOptions(
        target=target,
        name=name,
        task=task,
        metric=metric,
        id_columns=id_column or [],
        exclude=exclude or [],
        keep=keep or [],
        group=group,
        categorical=categorical or [],
        numeric=numeric or [],
        time_column=time,
        ordered=ordered,
        no_time=no_time,
        no_calendar=no_calendar,
        force=force,
        option_names=INIT_FLAGS,
    )
    plan = plan_dataset(get_settings(), path, opts)
    write_suite(plan.suite_file, suite_from_reference(plan.spec, plan.reference), force=force)
    write_spec(plan, f"Inferred by `driftgate init {path} --target {target}`; review it.")
    if line := plan.read_line():
        typer.echo(line)
    rows, columns = plan.shape
    typer.echo(f"{rows} rows, {columns} columns; {len(plan.spec.features)} features\n")
    typer.echo(plan.inferred.table())
    if plan.spec.time is not None and plan.spec.time.column is None:
        typer.echo("time order: rows in file order (--ordered): each batch is tested on its latest rows")
    typer.echo(f"\nwrote {plan.spec_file} and {plan.suite_file}; review them and commit them")


@expectations_app.command("init")
def expectations_init(
    dataset: DatasetOpt = None,
    reference: Annotated[
        Path | None, typer.Option(help="CSV/Parquet reference batch (default: batch 1 of the source).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace a suite a person has edited.")] = False,
) -> None:
    """Write a starting suite from the dataset spec and a reference batch."""
    from driftgate.dataset.frames import normalize
    from driftgate.dataset.scenario import make_batch, plan_batches
    from driftgate.dataset.sources import load_source, read_table
    from driftgate.dataset.spec import load_spec
    from driftgate.names import suite_path
    from driftgate.settings import get_settings
    from driftgate.tasks.validate import suite_from_reference, write_suite

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
