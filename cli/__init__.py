"""The ``driftgate`` command line: one module per command group; commands parse and print, the work is below.

``_app`` holds the Typer app and the error path; importing a group module registers its commands.
"""

from driftgate.cli import automations, backtest, data, drift, local, loop, models
from driftgate.cli._app import app, main

__all__ = ["app", "automations", "backtest", "data", "drift", "local", "loop", "main", "models"]
