"""Quiet by default: other libraries' warnings go to the DEBUG log; ``-v`` shows them; driftgate's own stay."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import logging, warnings
from driftgate.cli._app import configure_logging
configure_logging({verbose})
logging.getLogger("mlflow.utils.environment").warning("Failed to resolve installed pip version")
warnings.warn("The specified dataset source can be interpreted in multiple ways")
logging.getLogger("prefect.flow_runs").info("Beginning flow run")
logging.getLogger("driftgate.stores.lease").info("lease released")
logging.getLogger("driftgate.stores.lease").warning("lease of d taken over from x (expired)")
"""


@pytest.mark.parametrize("verbose", [False, True])
def test_third_party_warnings_are_debug_lines_shown_only_with_v(verbose: bool) -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(verbose=verbose)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "taken over from x (expired)" in out.stderr  # driftgate's own warning, always
    noise = ("Failed to resolve installed pip version", "interpreted in multiple ways", "Beginning flow run")
    for line in noise:
        assert (line in out.stderr) is verbose, out.stderr
    assert ("lease released" in out.stderr) is verbose  # driftgate's INFO: only with -v
