"""The Locust file runs headless against a service on 127.0.0.1 with zero failures."""

from __future__ import annotations

import re
import subprocess
import sys

from driftgate.local.servers import ServerThread
from driftgate.registry import set_champion
from driftgate.serving.app import create_app
from tests.conftest import ROOT
from tests.models import register_version
from tests.service.conftest import Registry
from tests.service.test_service import served_version, wait_for


def test_locustfile_runs_headless_with_zero_failures(registry: Registry) -> None:
    version, _ = register_version(registry.spec, registry.name, seed=1)
    set_champion(registry.client, registry.name, version)
    with ServerThread(create_app(registry.settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == version)
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
