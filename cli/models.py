"""Commands that move the champion by hand: ``promote`` and ``rollback``."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Annotated

import typer

from driftgate.cli._app import DatasetOpt, app

if TYPE_CHECKING:
    from driftgate.dataset.spec import DatasetSpec
    from driftgate.settings import Settings

log = logging.getLogger(__name__)


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="Model version to make champion.")], dataset: DatasetOpt = None
) -> None:
    """Point the champion alias at a version (it must exist and load as the service will load it)."""
    from driftgate.registry.champion_sqlite import ClientNeededError, promote_sqlite, sqlite_file

    settings, spec, name = _model(dataset)
    if (path := sqlite_file(settings.resolved_tracking_uri())) is not None:
        try:
            promote_sqlite(path, name, version, spec)
            return _promoted(name, version, spec.name)
        except ClientNeededError as exc:
            log.debug("promoting through MLflow's client: %s", exc)
    from driftgate.registry.client import promote as do_promote
    from driftgate.registry.tracking import configure_mlflow

    _promoted(name, str(do_promote(configure_mlflow(settings), name, version, spec).version), spec.name)


@app.command()
def rollback(dataset: DatasetOpt = None) -> None:
    """Move the champion alias back to the newest earlier champion that still loads."""
    from driftgate.registry.champion_sqlite import ClientNeededError, rollback_sqlite, sqlite_file

    settings, spec, name = _model(dataset)
    if (path := sqlite_file(settings.resolved_tracking_uri())) is not None:
        try:
            done = rollback_sqlite(path, name, spec)
            return _rolled_back(name, done.previous, done.current, spec.name)
        except ClientNeededError as exc:
            log.debug("rolling back through MLflow's client: %s", exc)
    from driftgate.registry.client import champion_version
    from driftgate.registry.client import rollback as do_rollback
    from driftgate.registry.tracking import configure_mlflow

    client = configure_mlflow(settings)
    before = champion_version(client, name)
    _rolled_back(name, do_rollback(client, name, spec), str(before.version) if before else None, spec.name)


def _model(dataset: str | None) -> tuple[Settings, DatasetSpec, str]:
    """The settings, the dataset's spec and its registered model's name (no lake: these commands do not read it)."""
    from driftgate.dataset.spec import load_spec
    from driftgate.settings import get_settings

    settings = get_settings()
    spec = load_spec(dataset or settings.dataset, settings.datasets_dir)
    return settings, spec, settings.model_name or spec.model_name


def _promoted(name: str, version: str, dataset: str) -> None:
    typer.echo(f"champion of {name} is now version {version} (by hand: the gate was not asked)")
    if _prefect_server():
        from driftgate.alerts.events import model_promoted

        model_promoted(name, version, dataset=dataset, previous=None, reason="by hand: driftgate promote")


def _rolled_back(name: str, version: str, previous: str | None, dataset: str) -> None:
    typer.echo(f"champion of {name} rolled back to version {version} (by hand: the gate was not asked)")
    if _prefect_server():
        from driftgate.alerts.events import model_rolled_back

        reason = "by hand: driftgate rollback"
        model_rolled_back(name, dataset=dataset, to_version=version, from_version=previous, reason=reason)


def _prefect_server() -> bool:
    """A manual move is an event only on a running Prefect server (``PREFECT_API_URL``): without one,
    sending it would start a temporary server for this command alone, and its feed would die with it."""
    return bool(os.environ.get("PREFECT_API_URL"))
