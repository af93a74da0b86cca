"""The driftgate command line: the installed entry point in a subprocess where that is what is
tested (help, version, a flow command's error), its ``main()`` in this process for the messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from driftgate import __version__
from driftgate.stores.outcome import BatchOutcome, format_table, quarantined
from tests.conftest import ROOT, Ran, free_port

CLI = Callable[..., Ran]

COMMANDS = [
    "data-api",
    "serve",
    "ingest",
    "run",
    "monitor",
    "predict-batch",
    "status",
    "promote",
    "rollback",
    "demo",
    "expectations",
    "up",
    "init",
    "automations",
    "drift",
]


def driftgate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "driftgate"
    # mlflow.set_tracking_uri in an earlier test exports MLFLOW_TRACKING_URI: a user's shell would not have it
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, env={**clean, **(env or {})}, cwd=ROOT, timeout=120
    )


def test_help_lists_every_command_and_version_prints_it() -> None:
    out = driftgate("--help")
    assert out.returncode == 0
    for command in COMMANDS:
        assert command in out.stdout
    version = driftgate("--version")
    assert version.stdout.strip() == f"driftgate {__version__}"


def test_an_unknown_dataset_is_one_clear_line_and_exit_1(tmp_path: Path, cli_in_process: CLI) -> None:
    out = cli_in_process("status", "--dataset", "no-such-data", env={"DRIFTGATE_HOME": str(tmp_path)}, cwd=ROOT)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert lines[-1].startswith("driftgate: error: no dataset spec at datasets/no-such-data.yaml")
    assert "Traceback" not in out.stderr


def test_expectations_init_writes_a_suite_and_never_overwrites_an_edited_one(
    tmp_path: Path, cli_in_process: CLI
) -> None:
    env = {"DRIFTGATE_EXPECTATIONS_DIR": str(tmp_path), "DRIFTGATE_HOME": str(tmp_path / "home")}

    def expectations_init(*options: str) -> Ran:
        return cli_in_process("expectations", "init", "--dataset", "synthetic-regression", *options, env=env, cwd=ROOT)

    first = expectations_init()
    assert first.returncode == 0, first.stderr
    path = tmp_path / "synthetic-regression.json"
    suite = json.loads(path.read_text())
    kinds = {e["type"] for e in suite["expectations"]}
    assert {
        "expect_table_columns_to_match_set",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_table_row_count_to_be_between",
    } <= kinds
    assert expectations_init().returncode == 0
    suite["expectations"].pop()
    path.write_text(json.dumps(suite))
    refused = expectations_init()
    assert refused.returncode == 1
    assert "has been edited" in refused.stderr
    assert json.loads(path.read_text()) == suite
    assert expectations_init("--force").returncode == 0
    assert len(json.loads(path.read_text())["expectations"]) == len(suite["expectations"]) + 1


def test_rollback_without_history_fails_cleanly(tmp_path: Path, cli_in_process: CLI) -> None:
    home = {"DRIFTGATE_HOME": str(tmp_path)}
    out = cli_in_process("rollback", "--dataset", "synthetic-regression", env=home, cwd=ROOT)
    assert out.returncode == 1
    assert "driftgate: error:" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.slow  # the installed command starts Prefect's ephemeral server
def test_a_failing_flow_command_prints_one_error_line_and_no_traceback(tmp_path: Path) -> None:
    """Prefect's own lines about the failed run (``Encountered exception``, ``Finished in state Failed``)
    are not repeated before driftgate's one line: the user reads the error once (``-v`` shows Prefect's)."""
    env = {
        "DRIFTGATE_HOME": str(tmp_path),
        "DRIFTGATE_DATA_API_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: a BatchFetchError
        "DRIFTGATE_FETCH_RETRIES": "0",
    }
    out = driftgate("run", "--dataset", "synthetic-regression", env=env)
    assert out.returncode == 1
    errors = [line for line in (out.stdout + out.stderr).splitlines() if "error" in line.lower()]
    assert len(errors) == 1, out.stderr[-3000:]
    assert errors[0].startswith("driftgate: error: data API at http://127.0.0.1:")
    assert "Traceback" not in out.stderr


def test_the_demo_table_has_one_line_per_batch_and_the_reasons() -> None:
    table = format_table(
        [
            BatchOutcome(
                batch=1,
                rows=10,
                valid=True,
                retrained=True,
                version="1",
                metric=0.91234,
                champion="1",
                gate="promoted",
                reasons=["no champion yet"],
                trigger="first",
                window=[1],
                window_rows=10,
            ),
            quarantined(2, 10, champion="1"),
        ]
    )
    lines = table.splitlines()
    header = [
        "batch",
        "rows",
        "valid",
        "drift",
        "trigger",
        "retrained",
        "window",
        "version",
        "metric",
        "champion",
        "gate",
        "why",
    ]
    assert lines[0].split() == header
    assert lines[2].split()[:12] == ["1", "10", "yes", "-", "first", "yes", "1-1", "(10", "rows)", "1", "0.9123", "1"]
    assert lines[3].endswith("quarantined: failed validation")
