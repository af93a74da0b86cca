"""The Locust file runs headless against a service on 127.0.0.1 with zero failures."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from driftgate.local.servers import ServerThread
from driftgate.serving.app import create_app
from tests.conftest import ROOT
from tests.service.conftest import Registry
from tests.service.test_service import served_version, wait_for


@pytest.mark.slow  # locust in a process of its own, for seconds of load
def test_locustfile_runs_headless_with_zero_failures(champion_v1: Registry) -> None:
    with ServerThread(create_app(champion_v1.settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(ROOT / "bench" / "locustfile.py"),
                "--headless",
                "-u",
                "16",
                "-r",
                "16",
                "-t",
                "20s",
                "--host",
                srv.url,
                "--only-summary",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    report = out.stdout + out.stderr
    assert out.returncode == 0, report[-3000:]
    aggregated = re.search(r"Aggregated\s+(\d+)\s+(\d+)\(", report)
    assert aggregated, report[-3000:]
    requests, failures = int(aggregated.group(1)), int(aggregated.group(2))
    assert requests > 200
    assert failures == 0
    assert "/explain" in report
