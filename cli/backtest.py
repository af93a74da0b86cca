"""``driftgate backtest``: compare retraining policies by replaying a dataset's batches."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from driftgate.cli._app import DatasetOpt, app


@app.command()
def backtest(
    dataset: DatasetOpt = None,
    policies: Annotated[
        str, typer.Option(help="Comma-separated retraining policies: never, drift, drift+growth, always.")
    ] = "never,drift,drift+growth,always",
    file: Annotated[
        str | None, typer.Option(help="Replay this CSV/Parquet file (in file order) instead of the spec's scenario.")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Rows per batch of --file.")] = None,
    out: Annotated[Path, typer.Option(help="Folder of the HTML page and the JSON file.")] = Path("."),
) -> None:
    """Replay the dataset's batches in order under each policy, each in a temporary home (nothing of yours is
    touched), and print per batch whether it retrained and why, its training time and its prequential score
    (the champion that served before the batch, scored on it); then each policy's totals."""
    from driftgate.flows.backtest import backtest as replay
    from driftgate.flows.backtest import format_report, write_report

    chosen = [p.strip() for p in policies.split(",") if p.strip()]
    report = replay(dataset=dataset, policies=chosen, file=file, batch_size=batch_size)
    typer.echo(format_report(report))
    json_path, html_path = write_report(report, out)
    typer.echo(f"\nwritten: {html_path} and {json_path}")
