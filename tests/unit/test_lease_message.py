"""The lease's takeover warning appears only when a lease really expired, not after a release."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from driftgate.stores.lake import Lake
from driftgate.stores.lease import acquire_lease, release_lease


def test_a_released_lease_is_taken_quietly_and_an_expired_one_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lake = Lake((tmp_path / "lake").as_uri(), {})
    with caplog.at_level(logging.INFO, logger="driftgate.stores.lease"):
        first = acquire_lease(lake, "d", owner="run-1", ttl_s=60)
        release_lease(lake, first)
        acquire_lease(lake, "d", owner="run-2", ttl_s=0.01)
        assert "taken over" not in caplog.text  # run-1 gave it back
        time.sleep(0.05)
        acquire_lease(lake, "d", owner="run-3", ttl_s=60)
    assert "lease of d taken over from run-2 (expired)" in caplog.text


def test_a_lease_whose_process_on_this_host_is_gone_is_taken_at_once_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import subprocess
    import sys

    lake = Lake((tmp_path / "lake").as_uri(), {})
    holder = (  # a process that takes the lease for an hour and dies without giving it back
        "from driftgate.stores.lake import Lake; from driftgate.stores.lease import acquire_lease; "
        f"acquire_lease(Lake({lake.url!r}, {{}}), 'd', owner='killed-run', ttl_s=3600)"
    )
    subprocess.run([sys.executable, "-c", holder], check=True)
    with caplog.at_level(logging.INFO, logger="driftgate.stores.lease"):
        taken = acquire_lease(lake, "d", owner="rerun", ttl_s=60)  # wait_s=0: it would raise if held
    assert taken.generation == 2
    assert "lease of d taken over from killed-run (its process" in caplog.text
