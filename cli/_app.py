"""The ``driftgate`` application: the Typer app, its global options, and the one-line error path."""

from __future__ import annotations

import logging
import os
import sys
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


DOMAIN_ERROR = "driftgate_domain_error"  # set on a log record that tells of a failure main() prints itself


def _domain_error_names() -> set[str]:
    """The class names of every DriftgateError (as Prefect's state messages name them)."""
    found, todo = set(), [DriftgateError]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo += cls.__subclasses__()
    return found


class _DomainErrorsWithoutTraceback(logging.Filter):
    """On Prefect's run loggers: a failed run's DriftgateError is a message, not a bug.

    Its record loses the traceback and is marked (:data:`DOMAIN_ERROR`), as is Prefect's
    ``Finished in state Failed(... SomeDriftgateError: ...)`` line; the console handler then
    shows them only with ``-v`` (:class:`_ThirdPartyToDebug`), since :func:`main` prints the
    error once itself. Prefect's own API handler still sends them to its UI.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], DriftgateError):
            record.exc_info, record.exc_text = None, None
            setattr(record, DOMAIN_ERROR, True)
        elif record.levelno >= logging.ERROR and _names_a_domain_error(record.getMessage()):
            setattr(record, DOMAIN_ERROR, True)
        return True


def _names_a_domain_error(message: str) -> bool:
    if not message.startswith(("Finished in state", "Task run failed with")):
        return False
    return any(f"{name}:" in message or f"{name}(" in message for name in _domain_error_names())


OURS = ("driftgate",)


class _ThirdPartyToDebug(logging.Filter):
    """Another library's notes and warnings (MLflow's dataset-source and pip-version ones, pandas'
    DtypeWarning through ``py.warnings``) are logged at DEBUG: shown with ``-v``, not before the answer.
    So are Prefect's error lines about a failed run's DriftgateError: the user sees its one line from main()."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, DOMAIN_ERROR, False):  # Prefect's account of an error main() prints once
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return self.verbose
        if record.name.split(".", 1)[0] in OURS or record.levelno >= logging.ERROR:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return self.verbose


def configure_logging(verbose: bool) -> None:
    """Quiet by default: driftgate's own warnings and every error; ``-v``: everything at DEBUG.

    Python warnings go to the log (``py.warnings``), so the filter above decides them too; MLflow
    and Prefect are told not to install their own INFO handlers.
    """
    root = logging.getLogger()
    before = list(root.handlers)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for handler in root.handlers:
        if handler not in before:  # ours only (a test harness's capture keeps what it sees)
            handler.addFilter(_ThirdPartyToDebug(verbose))
    logging.captureWarnings(True)
    for noisy in ("httpx", "urllib3", "alembic", "botocore", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "DEBUG" if verbose else "WARNING")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"driftgate {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="The full log (DEBUG), other libraries' warnings included.")
    ] = False,
) -> None:
    configure_logging(verbose)
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


def print_table(outcomes: list[Any]) -> None:
    from driftgate.stores.outcome import format_table

    typer.echo(format_table(outcomes))


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
