"""Commands that move the champion by hand: ``promote`` and ``rollback``."""

from __future__ import annotations

from typing import Annotated

import typer

from driftgate.cli._app import DatasetOpt, app


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="Model version to make champion.")], dataset: DatasetOpt = None
) -> None:
    """Point the champion alias at a version (it must exist and load as the service will load it)."""
    from driftgate.context import build_context
    from driftgate.registry import promote as do_promote
    from driftgate.settings import get_settings
    from driftgate.tracking import configure_mlflow

    ctx = build_context(get_settings(), dataset)
    mv = do_promote(configure_mlflow(ctx.settings), ctx.model_name, version, ctx.spec)
    typer.echo(f"champion of {ctx.model_name} is now version {mv.version} (by hand: the gate was not asked)")


@app.command()
def rollback(dataset: DatasetOpt = None) -> None:
    """Move the champion alias back to the newest earlier champion that still loads."""
    from driftgate.context import build_context
    from driftgate.registry import rollback as do_rollback
    from driftgate.settings import get_settings
    from driftgate.tracking import configure_mlflow

    ctx = build_context(get_settings(), dataset)
    previous = do_rollback(configure_mlflow(ctx.settings), ctx.model_name, ctx.spec)
    typer.echo(f"champion of {ctx.model_name} rolled back to version {previous} (by hand: the gate was not asked)")
