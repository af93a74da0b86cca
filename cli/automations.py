"""``driftgate automations apply`` and ``ls``: the automations driftgate ships, on the configured Prefect server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from driftgate.cli._app import app
from driftgate.errors import DriftgateError

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient

automations_app = typer.Typer(
    help="Prefect automations: notify on quarantine, drift, rollback, degradation; train on arrival; "
    "score on promotion.",
    no_args_is_help=True,
)
app.add_typer(automations_app, name="automations")


@contextmanager
def prefect_client() -> Iterator[SyncPrefectClient]:
    """The configured Prefect server's client (``PREFECT_API_URL``; else driftgate's embedded one).

    A server that refuses or cannot be reached is one line, not a traceback.
    """
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.exceptions import PrefectHTTPStatusError

    try:
        with get_client(sync_client=True) as client:
            yield client
    except PrefectHTTPStatusError as exc:
        raise DriftgateError(
            f"the Prefect server refused: {exc.response.status_code} {exc.response.text[:300]}"
        ) from None
    except httpx.TransportError as exc:
        raise DriftgateError(f"cannot reach the Prefect server: {exc}") from None


@automations_app.command("apply")
def apply() -> None:
    """Create or update driftgate's automations by name (notify ones need DRIFTGATE_NOTIFY_WEBHOOK)."""
    from driftgate.alerts.automations import apply_automations
    from driftgate.settings import get_settings

    hook = get_settings().notify_webhook
    with prefect_client() as client:
        done = apply_automations(client, webhook=hook.get_secret_value() if hook else None)
    for applied in done:
        typer.echo(applied.line())
    if hook is None:
        typer.echo("notify automations skipped: set DRIFTGATE_NOTIFY_WEBHOOK to a webhook URL (Slack-compatible)")


@automations_app.command("ls")
def ls() -> None:
    """List the Prefect server's automations whose names start with driftgate."""
    from driftgate.alerts.automations import list_automations

    with prefect_client() as client:
        found = list_automations(client)
    if not found:
        typer.echo("no driftgate automations (driftgate automations apply)")
    for listed in found:
        typer.echo(listed.line())
