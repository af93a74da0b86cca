"""``driftgate_live_drift_share``: the service publishes the monitor's newest live drift share from the lake."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from prometheus_client import REGISTRY

from driftgate.serving.lake_reader import LakeReader
from driftgate.serving.live_drift import newest_drift_share, publish_live_drift
from driftgate.serving.telemetry import telemetry
from driftgate.stores.lake import Lake

DATASET = "live-drift"


def summary(lake: Lake, upto: int, share: float | None) -> None:
    body = {"dataset": DATASET, "checked": share is not None, "drift_share": share}
    lake.write_bytes(lake.path("reports", "monitor", DATASET, f"upto-{upto}.json"), json.dumps(body).encode())


def test_the_newest_summary_gives_the_share(tmp_path: Path) -> None:
    lake = Lake((tmp_path / "lake").as_uri())
    assert newest_drift_share(LakeReader(lake, DATASET, ttl=0)) is None  # no monitor run yet
    summary(lake, 500, 0.125)
    summary(lake, 1500, 0.5)
    summary(lake, 1000, 0.25)
    assert newest_drift_share(LakeReader(lake, DATASET, ttl=0)) == 0.5
    summary(lake, 2000, None)  # too few new predictions to check: no share
    assert newest_drift_share(LakeReader(lake, DATASET, ttl=0)) is None


def test_the_gauge_follows_the_lake(tmp_path: Path) -> None:
    lake = Lake((tmp_path / "lake").as_uri())
    summary(lake, 10, 0.375)

    async def publish_for_a_moment() -> None:
        task = asyncio.create_task(
            publish_live_drift(LakeReader(lake, DATASET, ttl=0), telemetry().live_drift_share, "m-live", every=0.05)
        )
        await asyncio.sleep(0.5)
        task.cancel()

    asyncio.run(publish_for_a_moment())
    assert REGISTRY.get_sample_value("driftgate_live_drift_share", {"model": "m-live"}) == 0.375
